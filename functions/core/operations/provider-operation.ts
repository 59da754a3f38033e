import type { z } from 'zod';
import type { FetchedInput } from '../storage/input-fetcher.ts';

/** A file a provider produced, ready to store. */
export interface GeneratedFile {
  bytes: Buffer;
  contentType: string;
  extension: string;
}

export interface ProviderRunContext {
  /** The tenant whose task this is (e.g. to find a model this service produced for it). */
  tenantId: string;
  /** Aborted when the workflow step must give up. */
  signal?: AbortSignal;
  /**
   * Wraps an asynchronous provider's one paid create request (after its uploads, right before the
   * request goes out): the workflow records that a create is in flight, so a rerun after a crash
   * before the job id was recorded does not create a second job (workflow/async-jobs.ts `submitProviderJob`).
   */
  guardCreate?: <T>(create: () => Promise<T>) => Promise<T>;
  /**
   * Where a provider that takes a callback URL per request (BFL) should call when the job ends,
   * and the secret it signs with (docs/api.md, Webhooks); absent, the job is only polled.
   */
  webhook?: { url: string; secret: string };
}

export interface SyncRunResult {
  files: GeneratedFile[];
  /** What was actually sent to the provider beyond the request (translations, defaults), for `metadata`. */
  sent: Record<string, unknown>;
  /** Facts about the result (e.g. downscale's sizes and quality), for `metadata`. */
  facts?: Record<string, unknown>;
}

interface BaseProviderOperation {
  readonly provider: string;
  /** Full request schema; its output (with defaults) is what the workflow receives as `params`. */
  readonly schema: z.ZodType<Record<string, unknown>>;
  /** Request fields holding input file URLs (a string or an array of strings), in provider order. */
  readonly inputFields: readonly string[];
  /** What a result is: concept images go to `concept_images`, models to `models`. */
  readonly resultKind: 'image' | 'model';
  /** Whether the provider reports progress (then status shows it, and 100 on completion). */
  readonly reportsProgress: boolean;
}

/** One call returns the result (OpenAI, Stability, Recraft, in-BFF image processing). */
export interface SyncProviderOperation extends BaseProviderOperation {
  readonly mode: 'sync';
  /** 'image-processing': runs in the image Lambda (more memory, no provider) instead of RunProvider. */
  readonly runsOn?: 'provider' | 'image-processing';
  run(
    params: Record<string, unknown>,
    inputs: FetchedInput[],
    context: ProviderRunContext,
  ): Promise<SyncRunResult>;
}

export type PollOutcome =
  | {
      status: 'pending';
      /** 0–100, as far as the provider says; drives the next wait (workflow/poll-schedule.ts). */
      progress?: number;
      /** The provider's own estimate of the wait; still kept within the operation's `polling` bounds. */
      waitSeconds?: number;
    }
  | { status: 'done'; files: GeneratedFile[]; sent?: Record<string, unknown> };

/**
 * How an async provider's job is polled (workflow/poll-schedule.ts): the provider's rate rules
 * and how long its jobs usually take. Provider folders keep the numbers in their settings.ts.
 */
export interface PollPacing {
  /** How long a job usually takes: the first poll comes at half of it. */
  readonly typicalSeconds: number;
  /** Never poll sooner than this after the last poll (the provider's rate guidance; ≥ 1). */
  readonly minWaitSeconds: number;
  /** Never wait longer than this: bounds the delay between the job ending and the task seeing it. */
  readonly maxWaitSeconds: number;
}

/**
 * Submit once, then the state machine waits and polls until done (Flux/BFL, Tripo). `state` is
 * whatever the provider needs to poll (job id, polling URL) and travels in the execution.
 */
export interface AsyncProviderOperation extends BaseProviderOperation {
  readonly mode: 'async';
  /** How long the job may take before the task fails as timed out (default 30 minutes). */
  readonly deadlineSeconds?: number;
  /** How often the job may and should be polled (default DEFAULT_POLL_PACING in poll-schedule.ts). */
  readonly polling?: PollPacing;
  submit(
    params: Record<string, unknown>,
    inputs: FetchedInput[],
    context: ProviderRunContext,
  ): Promise<{ providerJobId: string; state: Record<string, unknown>; sent: Record<string, unknown> }>;
  poll(state: Record<string, unknown>, context: ProviderRunContext): Promise<PollOutcome>;
}

/**
 * One operation as served by one provider: the request schema (with the provider's real limits),
 * which request fields are input files, and how to run it. Provider folders export these; the
 * catalogue only assembles them.
 */
export type ProviderOperation = SyncProviderOperation | AsyncProviderOperation;

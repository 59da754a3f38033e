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
   * before the job id was recorded does not create a second job (steps.ts `submitProviderJob`).
   */
  guardCreate?: <T>(create: () => Promise<T>) => Promise<T>;
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
  | { status: 'pending'; progress?: number; waitSeconds?: number }
  | { status: 'done'; files: GeneratedFile[]; sent?: Record<string, unknown> };

/**
 * Submit once, then the state machine waits and polls until done (Flux/BFL, Tripo). `state` is
 * whatever the provider needs to poll (job id, polling URL) and travels in the execution.
 */
export interface AsyncProviderOperation extends BaseProviderOperation {
  readonly mode: 'async';
  /** How long the job may take before the task fails as timed out (default 30 minutes). */
  readonly deadlineSeconds?: number;
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

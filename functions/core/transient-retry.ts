import { getConfig } from './config.ts';
import { logger } from './logger.ts';

/**
 * Retrying inside a step: the pieces shared by result downloads, input downloads and result
 * uploads. These run where a state-machine retry would be wrong or too coarse (re-running
 * RunProvider calls the provider again, a second charge), so each transfer retries itself with
 * exponential backoff and jitter, within a number of attempts and a time budget.
 */

/**
 * Timing knobs, read at each use. Production keeps the defaults; tests that run retries at once
 * set `waitScale` to 0 (as the local runner's `retryIntervalMs: 0` does for the state machine),
 * shorten `stallMs`, or record waits through `sleep` instead of sleeping.
 */
export const retryTiming = {
  /** Multiplies every wait between attempts, Retry-After included. */
  waitScale: 1,
  /** An attempt that receives no bytes (headers or body) for this long is abandoned as stalled. */
  stallMs: 20_000,
  /** How a wait is taken. */
  sleep: (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms)),
  /** Source of jitter, in [0, 1). */
  random: (): number => Math.random(),
};

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait after the first failure; doubles after each further one. */
  baseMs: number;
  /** The longest backoff wait (Retry-After may ask for more, up to RETRY_AFTER_CAP_MS). */
  maxWaitMs: number;
  /** No attempt starts, and no wait is taken, beyond this many ms after the first attempt began. */
  budgetMs: number;
}

/** The longest Retry-After honoured; a server asking for longer is retried by a later step. */
export const RETRY_AFTER_CAP_MS = 30_000;

/** Statuses worth another attempt: request timeout, too early, rate limited, server errors. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Retry-After as milliseconds (delta-seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(0, ms));
}

/**
 * The wait after `failures` failed attempts (1 after the first): exponential with equal jitter
 * (half fixed, half random, so attempts of parallel transfers spread out but never follow at
 * once), at least what Retry-After asked for. Already scaled by `retryTiming.waitScale`.
 */
export function backoffMs(policy: RetryPolicy, failures: number, retryAfter?: number): number {
  const exponential = Math.min(policy.maxWaitMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  const jittered = exponential / 2 + (exponential / 2) * retryTiming.random();
  const scale = retryTiming.waitScale * getConfig().RETRY_WAIT_SCALE;
  return Math.round(Math.max(jittered, retryAfter ?? 0) * scale);
}

/** Takes a wait computed by backoffMs. */
export async function pause(ms: number): Promise<void> {
  if (ms > 0) await retryTiming.sleep(ms);
}

/**
 * Whether another attempt may follow the `failures`th failure after waiting `waitMs`, for a
 * transfer whose first attempt started at `startedAt`.
 */
export function mayRetry(policy: RetryPolicy, failures: number, waitMs: number, startedAt: number): boolean {
  return failures < policy.attempts && Date.now() - startedAt + waitMs < policy.budgetMs;
}

/** One attempt's end: its value, or a transient failure worth another attempt. */
export type AttemptOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; reason: string; retryAfterMs?: number | undefined; cause?: unknown };

/** `N attempt(s)`, for the sentence an exhausted transfer fails with. */
export function attemptsText(attempts: number): string {
  return `${attempts} attempt${attempts === 1 ? '' : 's'}`;
}

/**
 * The retry loop every in-step transfer shares: runs `attempt` (given the time left in the
 * policy's budget) until it succeeds or `policy` allows no more (attempts, budget), waiting
 * backoffMs between attempts (Retry-After honoured) and logging each retry as `warning`. When it
 * stops, throws `giveUp(attempts, last failure)`. An attempt that throws ends the loop at once:
 * that is how a failure not worth retrying is reported.
 */
export async function retrying<T>(
  policy: RetryPolicy,
  attempt: (remainingMs: number) => Promise<AttemptOutcome<T>>,
  options: {
    warning: string;
    fields: Record<string, unknown>;
    giveUp: (attempts: number, failure: { reason: string; cause?: unknown }) => Error;
  },
): Promise<T> {
  const startedAt = Date.now();
  for (let attempts = 1; ; attempts++) {
    const outcome = await attempt(policy.budgetMs - (Date.now() - startedAt));
    if (outcome.ok) return outcome.value;
    const wait = backoffMs(policy, attempts, outcome.retryAfterMs);
    if (!mayRetry(policy, attempts, wait, startedAt)) throw options.giveUp(attempts, outcome);
    logger.warn(options.warning, {
      ...options.fields,
      attempt: attempts,
      wait_ms: wait,
      reason: outcome.reason,
    });
    await pause(wait);
  }
}

/**
 * Abandons an attempt that stops receiving bytes: `signal` aborts when `progress()` has not been
 * called for `retryTiming.stallMs`. Start it before the request (waiting for headers counts) and
 * `stop()` it when the attempt ends.
 *
 * When the timer fires, the check waits for one turn of the event loop (setImmediate runs after
 * pending I/O): after a pause of the whole process (a busy machine), bytes that did arrive in the
 * meantime are counted before the attempt is judged stalled.
 */
export class StallWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private lastProgress = Date.now();
  private stopped = false;
  readonly ms = retryTiming.stallMs;
  stalled = false;

  constructor() {
    this.schedule(this.ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(): void {
    this.lastProgress = Date.now();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** `20 s` or `1.5 s`, for messages. */
  describe(): string {
    return `${Math.round(this.ms / 100) / 10} s`;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => setImmediate(() => this.check()), ms);
  }

  private check(): void {
    if (this.stopped) return;
    const idle = Date.now() - this.lastProgress;
    if (idle < this.ms) {
      this.schedule(this.ms - idle);
      return;
    }
    this.stalled = true;
    this.controller.abort(new Error(`no data for ${this.describe()}`));
  }
}

/**
 * Settles like `work`, or rejects with the signal's reason as soon as `signal` aborts, even when
 * `work` ignores the signal (a fetch implementation, a body stream).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Reads a body to its end, at most `limit` bytes (`tooLarge()` is thrown beyond), telling
 * `watch` of every chunk so that only a body that stops arriving is abandoned. A read that fails
 * or is cut off by `signal` (reset, stall, timeout) rejects with that error; the caller names it.
 */
export async function readBodyWatched(
  response: Response,
  limit: number,
  watch: StallWatch,
  signal: AbortSignal,
  tooLarge: () => Error,
): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await untilAborted(reader.read(), signal);
      if (done) break;
      watch.progress();
      total += value.byteLength;
      if (total > limit) throw tooLarge();
      chunks.push(Buffer.from(value));
    }
  } catch (error) {
    // Frees the connection of a body abandoned part-way (too large, stalled, timed out).
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  return Buffer.concat(chunks, total);
}

/** A failure's message for logs and task errors, one line. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${message}${cause}`.replace(/\s+/g, ' ').trim().slice(0, 300);
}

import { getConfig } from '../config.ts';
import {
  InputInvalidError,
  InputNotFoundError,
  InputTooLargeError,
  ProviderUnavailableError,
} from '../errors.ts';
import { isAllowedAssetUrl } from '../operations/fields.ts';
import {
  type AttemptOutcome,
  attemptsText,
  isTransientStatus,
  type RetryPolicy,
  readBodyWatched,
  reasonOf,
  retryAfterMs,
  retrying,
  StallWatch,
  untilAborted,
} from '../transient-retry.ts';

/**
 * Downloads a client's input file. Only URLs of the configured Supabase Storage origin are
 * fetched, redirects are followed only while they stay on those routes, and at most
 * MAX_INPUT_BYTES (20 MiB) are read: the BFF never fetches an arbitrary URL for a client.
 *
 * Storage hiccups are retried here, per INPUT_FETCH_RETRY: HTTP 408/425/429/5xx, resets, a
 * download that stalls (no bytes for `retryTiming.stallMs`) or times out. When they outlast it,
 * ProviderUnavailableError, which the state machine retries; never an internal error.
 */

export interface FetchedInput {
  field: string;
  url: string;
  bytes: Buffer;
  contentType: string;
  filename: string;
}

const MAX_REDIRECTS = 3;
const FETCH_TIMEOUT_MS = 60_000;

/** A few attempts within two minutes: the step (and its state-machine retries) must still fit. */
export const INPUT_FETCH_RETRY: RetryPolicy = {
  attempts: 3,
  baseMs: 1000,
  maxWaitMs: 8000,
  budgetMs: 120_000,
};

type FetchAttempt = AttemptOutcome<FetchedInput>;

export function fetchInput(field: string, url: string): Promise<FetchedInput> {
  return retrying(INPUT_FETCH_RETRY, (remainingMs) => fetchAttempt(field, url, remainingMs), {
    warning: 'Input download failed; trying again',
    fields: { field },
    giveUp: (attempts, { reason }) =>
      new ProviderUnavailableError(
        `Could not download ${field} from storage after ${attemptsText(attempts)} (${reason}); retrying may help`,
      ),
  });
}

async function fetchAttempt(field: string, url: string, remainingMs: number): Promise<FetchAttempt> {
  const limit = getConfig().MAX_INPUT_BYTES;
  const timeoutMs = Math.max(1, Math.min(FETCH_TIMEOUT_MS, remainingMs));
  const timeout = AbortSignal.timeout(timeoutMs);
  const watch = new StallWatch();
  const signal = AbortSignal.any([timeout, watch.signal]);
  const failed = (error: unknown): FetchAttempt => {
    if (watch.stalled) return { ok: false, reason: `stalled: no data for ${watch.describe()}` };
    if (timeout.aborted) return { ok: false, reason: `timed out after ${Math.round(timeoutMs / 1000)} s` };
    return { ok: false, reason: `connection failed: ${reasonOf(error)}` };
  };
  try {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (!isAllowedAssetUrl(current)) {
        throw new InputInvalidError(
          `${field} must point at this project's Supabase Storage; it redirected elsewhere`,
        );
      }
      let response: Response;
      try {
        response = await untilAborted(fetch(current, { redirect: 'manual', signal }), signal);
      } catch (error) {
        return failed(error);
      }
      watch.progress();
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.get('location');
        await response.body?.cancel().catch(() => undefined);
        if (!location) throw new InputInvalidError(`${field} answered a redirect without a location`);
        current = new URL(location, current).href;
        continue;
      }
      if (response.status === 404 || response.status === 400) {
        await response.body?.cancel().catch(() => undefined);
        throw new InputNotFoundError(
          `${field} was not found in storage (${url}); upload it before calling the API`,
        );
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        if (isTransientStatus(response.status)) {
          return {
            ok: false,
            reason: `storage answered HTTP ${response.status}`,
            retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
          };
        }
        throw new InputNotFoundError(`${field} could not be read from storage (HTTP ${response.status})`);
      }
      let bytes: Buffer;
      try {
        bytes = await readLimited(response, limit, field, watch, signal);
      } catch (error) {
        if (error instanceof InputTooLargeError) throw error;
        return failed(error);
      }
      const path = new URL(current).pathname;
      const filename = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || 'input';
      return {
        ok: true,
        value: {
          field,
          url,
          bytes,
          contentType:
            response.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream',
          filename,
        },
      };
    }
    throw new InputInvalidError(`${field} redirected more than ${MAX_REDIRECTS} times`);
  } finally {
    watch.stop();
  }
}

async function readLimited(
  response: Response,
  limit: number,
  field: string,
  watch: StallWatch,
  signal: AbortSignal,
): Promise<Buffer> {
  const tooLarge = () =>
    new InputTooLargeError(
      `${field} is larger than ${Math.round(limit / 1024 / 1024)} MiB, the input size limit`,
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  return readBodyWatched(response, limit, watch, signal, tooLarge);
}

/** Fetches every input field a provider operation declares, in its order. */
export async function fetchInputs(
  params: Record<string, unknown>,
  fields: readonly string[],
): Promise<FetchedInput[]> {
  const wanted: { field: string; url: string }[] = [];
  for (const field of fields) {
    const value = params[field];
    if (typeof value === 'string') wanted.push({ field, url: value });
    else if (Array.isArray(value)) {
      value.forEach((entry, index) => {
        if (typeof entry === 'string') wanted.push({ field: `${field}[${index}]`, url: entry });
      });
    }
  }
  // Every download runs to its end (read, or out of attempts) before the step goes on or fails,
  // so no retry keeps running behind a step that has already answered.
  const settled = await Promise.allSettled(wanted.map(({ field, url }) => fetchInput(field, url)));
  const inputs: FetchedInput[] = [];
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    inputs.push(result.value);
  }
  return inputs;
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { getConfig, providerBaseUrl, requireSecret } from '../config.ts';
import { ProviderRejectedError, ProviderResultUnavailableError } from '../errors.ts';
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
import { connectionError, timeoutError } from './provider-errors.ts';
import type { ProviderSettings } from './provider-settings.ts';

/** Where a provider is and the key it takes. */
export interface ProviderConnection {
  /** Configured base URL without a trailing slash (the simulator in sandbox mode). */
  baseUrl: string;
  key: string;
}

/** Read per call, not at module load: the local host and tests change the environment. */
export async function providerConnection(settings: ProviderSettings): Promise<ProviderConnection> {
  return { baseUrl: providerBaseUrl(settings), key: await requireSecret(settings.keyEnv) };
}

const injectedFetch = new AsyncLocalStorage<typeof fetch>();

/**
 * Runs `work` with every provider HTTP call (providerFetch, result downloads, the OpenAI SDK)
 * going through `fetchImplementation` instead of the global fetch: the network edge, injected,
 * for adapter tests that check the exact wire request against recorded provider answers.
 */
export function withProviderFetch<T>(fetchImplementation: typeof fetch, work: () => Promise<T>): Promise<T> {
  return injectedFetch.run(fetchImplementation, work);
}

/** The fetch provider calls use: an injected one (adapter tests), else the global fetch. */
export const currentFetch: typeof fetch = (input, init) => (injectedFetch.getStore() ?? fetch)(input, init);

/**
 * fetch for providers without an SDK (Stability, Recraft, BFL): the PROVIDER_TIMEOUT_SECONDS
 * timeout, network failures and timeouts turned into the named errors the state machine retries.
 */
export async function providerFetch(
  provider: string,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  const seconds = getConfig().PROVIDER_TIMEOUT_SECONDS;
  const timeout = AbortSignal.timeout(seconds * 1000);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  try {
    return await currentFetch(url, { ...init, signal, redirect: 'error' });
  } catch (error) {
    if (timeout.aborted) throw timeoutError(provider, seconds);
    throw connectionError(provider, error);
  }
}

/** An error body as one line: providers answer JSON or plain text, so read text first. */
export async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  if (!(response.headers.get('content-type') ?? '').includes('json')) return text.trim();
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of ['message', 'name', 'detail', 'errors', 'error', 'code']) {
      const value = body[key];
      if (value === undefined || value === null) continue;
      parts.push(typeof value === 'string' ? value : JSON.stringify(value));
    }
    return parts.join(': ') || text.trim();
  } catch {
    return text.trim();
  }
}

const MAX_RESULT_BYTES = 100 * 1024 * 1024;
const MAX_RESULT_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * How a result download retries. Four attempts within three minutes leave room, in a poll step's
 * five minutes, for the poll itself and the upload; each attempt also ends at
 * PROVIDER_TIMEOUT_SECONDS, or after `retryTiming.stallMs` without a byte.
 */
export const RESULT_DOWNLOAD_RETRY: RetryPolicy = {
  attempts: 4,
  baseMs: 1000,
  maxWaitMs: 8000,
  budgetMs: 180_000,
};

/** A result URL the BFF may fetch: https, or the provider's own configured origin (the sandbox is plain http). */
function checkResultUrl(provider: string, target: URL, providerOrigin: string, what: string): void {
  if (target.protocol === 'https:' || target.origin === providerOrigin) return;
  throw new ProviderRejectedError(
    `${provider} ${what} that is not https (${target.protocol}//${target.host}); it was not fetched`,
  );
}

/** One attempt's end: the bytes, or a transient failure worth another attempt. */
type DownloadAttempt = AttemptOutcome<Buffer>;

/**
 * Downloads a result file a provider points at, as soon as the provider reports it (result URLs
 * expire in minutes). Provider URLs are untrusted input: only https, or the provider's own
 * configured origin; redirects are followed by hand, at most 3, each under the same rule (so
 * never to plain http elsewhere); at most 100 MiB.
 *
 * Transient failures (HTTP 408/425/429/5xx, resets, timeouts, a stall with no bytes for
 * `retryTiming.stallMs`) are retried here, with backoff and jitter and honouring Retry-After, per
 * RESULT_DOWNLOAD_RETRY; when they outlast it, ProviderResultUnavailableError. Any other answer
 * (403 expired, 404, a refused redirect) is a ProviderRejectedError at once: another attempt at
 * the same URL will not help.
 */
export async function downloadProviderFile(
  provider: string,
  url: string,
  providerBaseUrl: string,
): Promise<Buffer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new ProviderRejectedError(`${provider} returned an invalid result URL`);
  }
  const providerOrigin = new URL(providerBaseUrl).origin;
  checkResultUrl(provider, target, providerOrigin, 'returned a result URL');
  return retrying(
    RESULT_DOWNLOAD_RETRY,
    (remainingMs) => downloadAttempt(provider, target, providerOrigin, remainingMs),
    {
      warning: 'Result download failed; trying again',
      fields: { provider },
      giveUp: (attempts, { reason }) =>
        new ProviderResultUnavailableError(
          provider,
          `${provider} result could not be downloaded after ${attemptsText(attempts)} (${reason})`,
        ),
    },
  );
}

async function downloadAttempt(
  provider: string,
  start: URL,
  providerOrigin: string,
  remainingMs: number,
): Promise<DownloadAttempt> {
  const timeoutMs = Math.max(1, Math.min(getConfig().PROVIDER_TIMEOUT_SECONDS * 1000, remainingMs));
  const timeout = AbortSignal.timeout(timeoutMs);
  const watch = new StallWatch();
  const signal = AbortSignal.any([timeout, watch.signal]);
  const failed = (error: unknown): DownloadAttempt => {
    if (watch.stalled) return { ok: false, reason: `stalled: no data for ${watch.describe()}` };
    if (timeout.aborted) return { ok: false, reason: `timed out after ${Math.round(timeoutMs / 1000)} s` };
    return { ok: false, reason: `connection failed: ${reasonOf(error)}` };
  };
  try {
    let target = start;
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await untilAborted(currentFetch(target.href, { signal, redirect: 'manual' }), signal);
      } catch (error) {
        return failed(error);
      }
      watch.progress();
      if (REDIRECT_STATUSES.has(response.status)) {
        const location = response.headers.get('location');
        await response.body?.cancel().catch(() => undefined);
        if (hop >= MAX_RESULT_REDIRECTS) {
          throw new ProviderRejectedError(
            `${provider} result download redirected more than ${MAX_RESULT_REDIRECTS} times`,
          );
        }
        let next: URL;
        try {
          next = new URL(location ?? '', target);
          if (!location) throw new Error('no location');
        } catch {
          throw new ProviderRejectedError(
            `${provider} result download answered HTTP ${response.status} without a usable Location`,
          );
        }
        checkResultUrl(provider, next, providerOrigin, 'result download redirected to a URL');
        target = next;
        continue;
      }
      if (!response.ok) {
        const detail = await untilAborted(errorDetail(response), signal).catch(() => '');
        const reason = `HTTP ${response.status}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
        if (isTransientStatus(response.status)) {
          const after = retryAfterMs(response.headers.get('retry-after'));
          return after === undefined ? { ok: false, reason } : { ok: false, reason, retryAfterMs: after };
        }
        // An expired or missing result cannot be fetched by downloading the same URL again.
        throw new ProviderRejectedError(`${provider} result could not be downloaded (${reason})`);
      }
      const declared = Number(response.headers.get('content-length') ?? Number.NaN);
      if (Number.isFinite(declared) && declared > MAX_RESULT_BYTES) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderRejectedError(`${provider} result is larger than ${MAX_RESULT_BYTES} bytes`);
      }
      const tooLarge = () => new ProviderRejectedError(`${provider} result is too large`);
      try {
        return {
          ok: true,
          value: await readBodyWatched(response, MAX_RESULT_BYTES, watch, signal, tooLarge),
        };
      } catch (error) {
        if (error instanceof ProviderRejectedError) throw error;
        return failed(error);
      }
    }
  } finally {
    watch.stop();
  }
}

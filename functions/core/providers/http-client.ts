import { AsyncLocalStorage } from 'node:async_hooks';
import { getConfig, providerBaseUrl, requireSecret } from '../config.ts';
import { ProviderRejectedError } from '../errors.ts';
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

/**
 * Downloads a result file a provider points at. Provider URLs are untrusted input: only https,
 * or the provider's own configured origin (the sandbox runs on plain http), and a size cap.
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
  const sameOrigin = target.origin === new URL(providerBaseUrl).origin;
  if (target.protocol !== 'https:' && !sameOrigin) {
    throw new ProviderRejectedError(`${provider} returned a result URL that is not https`);
  }
  const response = await providerFetch(provider, target.href);
  if (!response.ok) {
    const detail = await errorDetail(response);
    // An expired or missing result cannot be fetched again by retrying the download.
    throw new ProviderRejectedError(
      `${provider} result could not be downloaded (HTTP ${response.status}${detail ? `: ${detail.slice(0, 200)}` : ''})`,
    );
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > MAX_RESULT_BYTES) {
    await response.body?.cancel();
    throw new ProviderRejectedError(`${provider} result is larger than ${MAX_RESULT_BYTES} bytes`);
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > MAX_RESULT_BYTES) throw new ProviderRejectedError(`${provider} result is too large`);
  return bytes;
}

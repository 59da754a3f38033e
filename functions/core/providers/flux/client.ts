import { getConfig } from '../../config.ts';
import { ProviderRejectedError } from '../../errors.ts';
import { type ProviderConnection, providerConnection, providerFetch } from '../http-client.ts';
import { createFailure } from '../paid-create.ts';
import { errorForStatus, timeoutError } from '../provider-errors.ts';
import { fluxSettings } from './settings.ts';

/**
 * Transport for Black Forest Labs' API (docs/providers/flux.md, "Endpoints the service uses"): the `x-key` header, BFL's
 * error bodies, and the rule for which polling URLs the key may be sent to.
 */

export const FLUX_LABEL = fluxSettings.label;

export type BflConnection = ProviderConnection;

export function bflConnection(): Promise<BflConnection> {
  return providerConnection(fluxSettings);
}

/** BFL's own hosts (api.bfl.ai, its regional api.eu/us.bfl.ai, the older bfl.ml domain). */
const BFL_HOST = /(^|\.)bfl\.(ai|ml)$/i;

/**
 * The `polling_url` BFL returns is used verbatim (it names the cluster that owns the task), but
 * it arrives in a response body and the API key travels with every poll, so it is untrusted:
 * accepted only on the configured BFL origin (the sandbox is plain http) or over https on one of
 * BFL's own hosts. Anything else would hand the key to whoever could shape that response.
 */
export function trustedPollingUrl(raw: string, baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProviderRejectedError(`${FLUX_LABEL} returned a polling URL that is not a URL`);
  }
  const sameOrigin = url.origin === new URL(baseUrl).origin;
  const bflHttps = url.protocol === 'https:' && BFL_HOST.test(url.hostname);
  if (url.username || url.password || !(sameOrigin || bflHttps)) {
    throw new ProviderRejectedError(
      `${FLUX_LABEL} returned a polling URL outside BFL (${url.origin}); it was not polled, retrying will not help`,
    );
  }
  return url.href;
}

/** BFL errors are `{detail: "text"}`, or FastAPI's 422 list `{detail: [{loc, msg}]}`. */
export async function bflErrorDetail(response: Response): Promise<string> {
  const text = (await response.text().catch(() => '')).trim();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  const detail =
    typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((issue: unknown) => {
        if (typeof issue !== 'object' || issue === null) return String(issue);
        const { loc, msg } = issue as { loc?: unknown; msg?: unknown };
        // loc starts with where the value was ('body', 'query'); the field name is what helps.
        const field = Array.isArray(loc) ? loc.slice(1).map(String).join('.') : '';
        return field ? `${field}: ${String(msg)}` : String(msg);
      })
      .join('; ');
  }
  return text;
}

/** One BFL call with the key; a non-2xx answer becomes the named error for its status. */
export async function bflRequest(
  url: string,
  connection: BflConnection,
  init: {
    method: 'GET' | 'POST';
    body?: unknown;
    signal?: AbortSignal | undefined;
    /** The sentence for a 404, where the caller knows what a missing resource means. */
    notFound?: string;
    /** A limit below PROVIDER_TIMEOUT_SECONDS for calls that should answer at once. */
    timeoutSeconds?: number;
    /** A paid job creation: sent again only where BFL provably declined it (paid-create.ts). */
    creates?: boolean;
  },
): Promise<unknown> {
  const seconds = Math.min(
    init.timeoutSeconds ?? Number.POSITIVE_INFINITY,
    getConfig().PROVIDER_TIMEOUT_SECONDS,
  );
  const own = init.timeoutSeconds !== undefined ? AbortSignal.timeout(seconds * 1000) : undefined;
  const signals = [init.signal, own].filter((signal): signal is AbortSignal => signal !== undefined);
  const headers: Record<string, string> = { 'x-key': connection.key, accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let status: number | undefined;
  try {
    const response = await providerFetch(FLUX_LABEL, url, {
      method: init.method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
    });
    status = response.status;
    if (response.status === 404 && init.notFound) {
      await response.body?.cancel();
      throw new ProviderRejectedError(init.notFound);
    }
    if (!response.ok) throw errorForStatus(FLUX_LABEL, response.status, await bflErrorDetail(response));
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  } catch (caught) {
    // providerFetch only recognises its own timeout; ours must read as a timeout too (retried).
    const error = own?.aborted ? timeoutError(FLUX_LABEL, seconds) : caught;
    throw init.creates ? createFailure(FLUX_LABEL, 'job', error, status) : error;
  }
}

import { z } from 'zod';
import { getConfig } from '../../config.ts';
import { ProviderRejectedError, ProviderUnavailableError } from '../../errors.ts';
import { logger } from '../../logger.ts';
import { type ProviderConnection, providerConnection, providerFetch } from '../http-client.ts';
import { errorForStatus, moderatedError, timeoutError } from '../provider-errors.ts';

/**
 * Transport for Tripo's v2 OpenAPI (provider-contracts.md §6): `Authorization: Bearer`, the
 * `{code, data}` / `{code, message, suggestion}` envelope, and Tripo's error codes (§6.5), which
 * decide retryability where the HTTP status alone would mislead (a 403 is also "no credit").
 */

export const TRIPO_LABEL = 'Tripo';

export type TripoConnection = ProviderConnection;

export function tripoConnection(): Promise<TripoConnection> {
  return providerConnection(getConfig().TRIPO_BASE_URL, 'TRIPO_API_KEY');
}

const ErrorBodySchema = z.object({
  code: z.number(),
  message: z.string().nullish(),
  suggestion: z.string().nullish(),
});

const SuccessBodySchema = z.object({ code: z.literal(0), data: z.unknown() });

/** Codes whose meaning the HTTP status does not carry (§6.5, §8 item 26). */
const CONTENT_POLICY = 2008;
const NOT_ENOUGH_CREDIT = 2010;
/** The moderation service itself failed (400 on newer docs, 500 on older): worth another try. */
const AUDIT_SERVICE_ERROR = 2014;

/** A Tripo error answer as the BFF's named error. */
function translateError(status: number, text: string, traceId: string | null): Error {
  const parsed = ErrorBodySchema.safeParse(safeJson(text));
  if (!parsed.success) return errorForStatus(TRIPO_LABEL, status, text.trim());
  const { code, message, suggestion } = parsed.data;
  const detail = [`code ${code}`, message, suggestion].filter(Boolean).join(': ');
  logger.warn('Tripo answered an error', { http_status: status, tripo_code: code, tripo_trace_id: traceId });
  if (code === CONTENT_POLICY) return moderatedError(TRIPO_LABEL, detail);
  if (code === NOT_ENOUGH_CREDIT) {
    return new ProviderRejectedError(
      `${TRIPO_LABEL} refused the task because the service's account has not enough credit (${detail}); retrying will not help until credit is added`,
    );
  }
  if (code === AUDIT_SERVICE_ERROR) {
    return new ProviderUnavailableError(
      `${TRIPO_LABEL}'s content check failed (${detail}); retrying may help`,
    );
  }
  return errorForStatus(TRIPO_LABEL, status, detail);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * One Tripo call; answers the envelope's `data`. A non-2xx answer, or a 2xx whose `code` is not 0,
 * becomes the named error for its code and status.
 */
export async function tripoRequest(
  path: string,
  connection: TripoConnection,
  init: {
    method: 'GET' | 'POST';
    body?: Record<string, unknown> | FormData;
    signal?: AbortSignal | undefined;
    /** A limit below PROVIDER_TIMEOUT_SECONDS for calls that should answer at once. */
    timeoutSeconds?: number;
  },
): Promise<unknown> {
  const seconds = Math.min(
    init.timeoutSeconds ?? Number.POSITIVE_INFINITY,
    getConfig().PROVIDER_TIMEOUT_SECONDS,
  );
  const own = init.timeoutSeconds !== undefined ? AbortSignal.timeout(seconds * 1000) : undefined;
  const signals = [init.signal, own].filter((signal): signal is AbortSignal => signal !== undefined);
  const headers: Record<string, string> = {
    authorization: `Bearer ${connection.key}`,
    accept: 'application/json',
  };
  // fetch sets the multipart boundary itself; only JSON needs its type named.
  if (init.body !== undefined && !(init.body instanceof FormData))
    headers['content-type'] = 'application/json';
  try {
    const response = await providerFetch(TRIPO_LABEL, `${connection.baseUrl}${path}`, {
      method: init.method,
      headers,
      ...(init.body instanceof FormData
        ? { body: init.body }
        : init.body !== undefined
          ? { body: JSON.stringify(init.body) }
          : {}),
      ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
    });
    const traceId = response.headers.get('x-tripo-trace-id');
    const text = await response.text();
    if (!response.ok) throw translateError(response.status, text, traceId);
    const body = safeJson(text);
    const success = SuccessBodySchema.safeParse(body);
    if (success.success) return success.data.data;
    // A 2xx carrying an error envelope is still an error, with the code's meaning.
    if (ErrorBodySchema.safeParse(body).success) throw translateError(400, text, traceId);
    throw new ProviderUnavailableError(
      `${TRIPO_LABEL} answered ${path} with a body that is not its JSON envelope; retrying may help`,
    );
  } catch (error) {
    // providerFetch only recognises its own timeout; ours must read as a timeout too (retried).
    if (own?.aborted) throw timeoutError(TRIPO_LABEL, seconds);
    throw error;
  }
}

import * as z from 'zod';
import { getConfig, providerBaseUrl, requireSecret } from '../../config.ts';
import { ProviderRejectedError, ProviderUnavailableError } from '../../errors.ts';
import { logger } from '../../logger.ts';
import { type ProviderConnection, providerFetch } from '../http-client.ts';
import { createFailure } from '../paid-create.ts';
import { errorForStatus, moderatedError, timeoutError } from '../provider-errors.ts';
import { retiredOn } from '../provider-settings.ts';
import { tripoSettings } from './settings.ts';

/**
 * Transport for Tripo API v3 (docs/providers/tripo.md): `Authorization: Bearer`, the
 * `{code: 0, status, data}` / `{code, status: "error", message, suggestion, request_id}` envelope,
 * and Tripo's error codes, which decide retryability where the HTTP status alone would mislead
 * (a 403 is also "no credit"; 2015 is a retired model).
 */

export const TRIPO_LABEL = tripoSettings.label;

export type TripoConnection = ProviderConnection;

/** The configured host, refused at once when it is the v2 API Tripo shut down. */
export async function tripoConnection(): Promise<TripoConnection> {
  const baseUrl = providerBaseUrl(tripoSettings);
  const retiredHost = Object.keys(tripoSettings.retired).find(
    (host) => host.startsWith('https://') && baseUrl.startsWith(host),
  );
  if (retiredHost) {
    throw new ProviderRejectedError(
      `${tripoSettings.baseUrl.env} is ${baseUrl}, Tripo's v2 API, which Tripo shut down on ${retiredOn(tripoSettings, retiredHost)}; set ${tripoSettings.baseUrl.env} to ${tripoSettings.baseUrl.default} (or https://openapi.tripo3d.com/v3 for a China-region key); retrying will not help`,
    );
  }
  return { baseUrl, key: await requireSecret(tripoSettings.keyEnv) };
}

const ErrorBodySchema = z.object({
  code: z.number(),
  message: z.string().nullish(),
  suggestion: z.string().nullish(),
  request_id: z.string().nullish(),
});

const SuccessBodySchema = z.object({ code: z.literal(0), data: z.unknown() });

/** Codes whose meaning the HTTP status does not carry (docs/providers/tripo.md, "Errors"). */
const CONTENT_POLICY = 2008;
const NOT_ENOUGH_CREDIT = 2010;
/** The moderation service itself failed: worth another try. */
const AUDIT_SERVICE_ERROR = 2014;
/** 2015 "The version has been deprecated", 2016/2017 other version errors. */
const VERSION_ERRORS = new Set([2015, 2016, 2017]);
/** No such route (v3's answer for a path it does not serve, e.g. the retired /models/refine). */
const UNKNOWN_ROUTE = 4001;
/** Rate (1007) and concurrency (2000) limits: Tripo provably declined the request. */
const DECLINED_CODES = new Set([1007, 2000]);

/** What a call may tell the caller about a refusal. */
export interface TripoCallContext {
  /** The model sent and the variable that chose it, for a sentence on a retired model. */
  model?: { id: string; variable: string | undefined };
}

/** A Tripo error answer as the BFF's named error. */
function translateError(
  status: number,
  text: string,
  path: string,
  traceId: string | null,
  context: TripoCallContext,
): Error {
  const parsed = ErrorBodySchema.safeParse(safeJson(text));
  if (status === 404 && (!parsed.success || parsed.data.code === UNKNOWN_ROUTE)) {
    // The host does not serve this path: a retired endpoint or a wrong base URL, never transient.
    return new ProviderRejectedError(
      `${TRIPO_LABEL} does not serve ${path} at ${tripoSettings.baseUrl.env}=${providerBaseUrl(tripoSettings)} (HTTP 404): the endpoint is retired or the base URL is wrong; retrying will not help`,
    );
  }
  if (!parsed.success) return errorForStatus(TRIPO_LABEL, status, text.trim());
  const { code, message, suggestion, request_id: requestId } = parsed.data;
  const detail = [`code ${code}`, message, suggestion].filter(Boolean).join(': ');
  logger.warn('Tripo answered an error', {
    http_status: status,
    tripo_code: code,
    tripo_trace_id: traceId,
    tripo_request_id: requestId,
  });
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
  if (VERSION_ERRORS.has(code) && context.model) {
    const { id, variable } = context.model;
    const fix = variable
      ? `set ${variable} to a current Tripo model`
      : 'send a current model_version, or omit it to use the configured default';
    return new ProviderRejectedError(
      `${TRIPO_LABEL} no longer accepts the model '${id}' (${detail}); ${fix}; retrying will not help`,
    );
  }
  // Tripo's 429s are limits it will lift (rate or concurrency); other statuses keep their meaning.
  return errorForStatus(TRIPO_LABEL, DECLINED_CODES.has(code) ? 429 : status, detail);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface TripoRequestInit extends TripoCallContext {
  method: 'GET' | 'POST';
  body?: Record<string, unknown> | FormData;
  signal?: AbortSignal | undefined;
  /** A limit below PROVIDER_TIMEOUT_SECONDS for calls that should answer at once. */
  timeoutSeconds?: number;
  /** A paid task creation: sent again only where Tripo provably declined it. */
  creates?: boolean;
}

/**
 * One Tripo call; answers the envelope's `data`. A non-2xx answer, or a 2xx whose `code` is not 0,
 * becomes the named error for its code and status.
 */
export async function tripoRequest(
  path: string,
  connection: TripoConnection,
  init: TripoRequestInit,
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
  let status: number | undefined;
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
    status = response.status;
    const traceId = response.headers.get('x-tripo-trace-id');
    const text = await response.text();
    if (!response.ok) throw translateError(response.status, text, path, traceId, init);
    const body = safeJson(text);
    const success = SuccessBodySchema.safeParse(body);
    if (success.success) return success.data.data;
    // A 2xx carrying an error envelope is still an error, with the code's meaning.
    if (ErrorBodySchema.safeParse(body).success) throw translateError(400, text, path, traceId, init);
    throw new ProviderUnavailableError(
      `${TRIPO_LABEL} answered ${path} with a body that is not its JSON envelope; retrying may help`,
    );
  } catch (caught) {
    // providerFetch only recognises its own timeout; ours must read as a timeout too (retried).
    const error = own?.aborted ? timeoutError(TRIPO_LABEL, seconds) : caught;
    throw init.creates ? createFailure(TRIPO_LABEL, 'task', error, status) : error;
  }
}

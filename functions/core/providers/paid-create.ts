import {
  ProviderOutcomeUnknownError,
  ProviderRejectedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from '../errors.ts';

/**
 * Paid job creation at providers that document no idempotency key (Tripo, BFL): a create is sent
 * again only where the provider provably declined it — a 4xx answer such as 429 for its rate and
 * concurrency limits, a 503, or a connection that was never made — as Tripo's official SDKs do
 * (docs/providers/tripo.md, "Retries"). Any other failure (408, 425, 500, 502, 504, a reset or a
 * timeout after the request went out) may have created and billed a job — the JS and Go SDKs
 * flag a POST that got 408 or 425 as indeterminate too — so it ends the task as
 * ProviderOutcomeUnknownError, which the state machine does not retry.
 */

/** Answers below 500 that do not prove the request was declined (tripo-js-sdk src/http.js). */
const INDETERMINATE_4XX = new Set([408, 425]);

/** Connection errors that mean the request never reached the provider (Tripo's JS SDK's list). */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCodeOf(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/**
 * The error a failed paid create ends with: the error itself where the provider declined (retried
 * as usual), else ProviderOutcomeUnknownError. `status` is the HTTP status if an answer came.
 */
export function createFailure(
  provider: string,
  what: string,
  error: unknown,
  status: number | undefined,
): unknown {
  if (error instanceof ProviderOutcomeUnknownError) return error;
  const indeterminate = status !== undefined && INDETERMINATE_4XX.has(status);
  if (error instanceof ProviderRejectedError && !indeterminate) return error;
  const declined =
    (status !== undefined && status < 500 && !indeterminate) ||
    status === 503 ||
    (status === undefined &&
      error instanceof ProviderUnavailableError &&
      NEVER_SENT.has(errorCodeOf(error) ?? ''));
  if (declined) return error;
  if (!indeterminate && !(error instanceof ProviderUnavailableError || error instanceof ProviderTimeoutError))
    return error;
  const how = status === undefined ? 'the connection failed or timed out' : `it answered HTTP ${status}`;
  return new ProviderOutcomeUnknownError(
    `${provider} may or may not have created the ${what} (${how} after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help`,
    { cause: error },
  );
}

import {
  ContentModeratedError,
  ProviderRateLimitedError,
  ProviderRejectedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
} from '../errors.ts';
import { redactText } from '../observability/redaction.ts';

/**
 * Retryability from the HTTP status, the same rule for every provider: 408/429/5xx are worth
 * another attempt (the state machine's Retry), other 4xx are not. Messages say which.
 */
export function errorForStatus(provider: string, status: number, detail: string): Error {
  const reason = detail ? `: ${truncate(detail)}` : '';
  if (status === 408)
    return new ProviderTimeoutError(`${provider} timed out (HTTP 408)${reason}; retrying may help`);
  if (status === 429) {
    return new ProviderRateLimitedError(
      `${provider} rate limit reached (HTTP 429)${reason}; retrying later may help`,
    );
  }
  if (status >= 500) {
    return new ProviderUnavailableError(
      `${provider} is unavailable (HTTP ${status})${reason}; retrying may help`,
    );
  }
  if (status === 401 || status === 403) {
    return new ProviderRejectedError(
      `${provider} refused the BFF's credentials (HTTP ${status})${reason}; the service's provider key must be fixed, retrying will not help`,
    );
  }
  return new ProviderRejectedError(
    `${provider} rejected the request (HTTP ${status})${reason}; retrying will not help`,
  );
}

export function moderatedError(provider: string, detail: string): ContentModeratedError {
  const reason = detail ? ` (${truncate(detail)})` : '';
  return new ContentModeratedError(
    `${provider} refused this request under its content policy${reason}; change the prompt or image before retrying`,
  );
}

export function timeoutError(provider: string, seconds: number): ProviderTimeoutError {
  return new ProviderTimeoutError(
    `${provider} timed out after ${seconds} s without an answer; retrying may help`,
  );
}

export function connectionError(provider: string, cause: unknown): ProviderUnavailableError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new ProviderUnavailableError(
    `Could not reach ${provider} (${truncate(message)}); retrying may help`,
    {
      cause,
    },
  );
}

/**
 * A provider's words as shown to the client (the task's `error`): scrubbed first, since a provider
 * or a proxy may quote the request back, key and input included.
 */
function truncate(text: string, max = 300): string {
  const single = redactText(text).replace(/\s+/g, ' ').trim();
  return single.length > max ? `${single.slice(0, max)}…` : single;
}

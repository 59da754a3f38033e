/**
 * Named errors. Their `name` is the vocabulary the state machine's Retry and Catch match on,
 * and `statusCode` is how the API answers them; the mapping to HTTP lives only in http.ts.
 */

export type TaskErrorCode =
  | 'provider_timeout'
  | 'provider_rejected'
  | 'content_moderated'
  | 'input_not_found'
  | 'input_too_large'
  | 'input_invalid'
  | 'provider_unavailable'
  | 'internal';

export interface FieldIssue {
  field: string;
  message: string;
}

abstract class AppError extends Error {
  abstract readonly statusCode: number;
  /** When retrying the same request can succeed: answered as the Retry-After header (plain-http.ts). */
  readonly retryAfterSeconds?: number | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---- API errors (answered to the caller) ----

export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  readonly statusCode = 400;
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

export class UnauthorizedError extends AppError {
  override readonly name = 'UnauthorizedError';
  readonly statusCode = 401;
  constructor(
    message: string,
    readonly challenge: boolean = true,
  ) {
    super(message);
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  readonly statusCode = 404;
}

export class MethodNotAllowedError extends AppError {
  override readonly name = 'MethodNotAllowedError';
  readonly statusCode = 405;
  constructor(
    message: string,
    readonly allow: string[],
  ) {
    super(message);
  }
}

export class ConflictError extends AppError {
  override readonly name = 'ConflictError';
  readonly statusCode = 409;
  /** `retryAfterSeconds` when the same request can succeed later (its first copy still in flight). */
  constructor(
    message: string,
    override readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export class PayloadTooLargeError extends AppError {
  override readonly name = 'PayloadTooLargeError';
  readonly statusCode = 413;
}

export class RateLimitedError extends AppError {
  override readonly name = 'RateLimitedError';
  readonly statusCode = 429;
  constructor(override readonly retryAfterSeconds: number) {
    super('Rate limit exceeded');
  }
}

export class ServiceUnavailableError extends AppError {
  override readonly name = 'ServiceUnavailableError';
  readonly statusCode = 503;
}

// ---- Workflow errors (end a task, or are retried by the state machine) ----

abstract class TaskError extends AppError {
  abstract readonly errorCode: TaskErrorCode;
  /** Whether the state machine's Retry should try the step again. */
  abstract readonly retryable: boolean;
  readonly statusCode = 502;
}

/** Provider answered 5xx, 429 (rate limit) or the connection failed: retried with backoff. */
export class ProviderUnavailableError extends TaskError {
  override readonly name = 'ProviderUnavailableError';
  readonly errorCode = 'provider_unavailable';
  readonly retryable = true;
}

/**
 * Provider answered 429: retried with a longer backoff than other transient errors, because
 * providers lock a key out for a while (Stability: 60 s after 150 requests in 10 s).
 */
export class ProviderRateLimitedError extends TaskError {
  override readonly name = 'ProviderRateLimitedError';
  readonly errorCode = 'provider_unavailable';
  readonly retryable = true;
}

/** Provider did not answer within PROVIDER_TIMEOUT_SECONDS: retried with backoff. */
export class ProviderTimeoutError extends TaskError {
  override readonly name = 'ProviderTimeoutError';
  readonly errorCode = 'provider_timeout';
  readonly retryable = true;
}

/**
 * A paid provider call whose outcome is unknown (a 5xx, a reset or a timeout after the request
 * went out): the provider may have accepted it, and a second attempt could be a second bill, so
 * the state machine does not retry it; the task fails and the client decides.
 */
export class ProviderOutcomeUnknownError extends TaskError {
  override readonly name = 'ProviderOutcomeUnknownError';
  readonly errorCode = 'provider_unavailable';
  readonly retryable = false;
}

/**
 * A finished provider result could not be downloaded: transient failures (5xx, 429, resets,
 * stalls, timeouts) outlasted the download's own retries. Named ProviderUnavailableError, so the
 * state machine retries a poll step (polling again is free and yields fresh URLs); a step that
 * made the paid call itself turns it into ResultDownloadFailedError instead.
 */
export class ProviderResultUnavailableError extends ProviderUnavailableError {
  constructor(
    /** The provider's label, e.g. `Recraft`. */
    readonly provider: string,
    /** What failed, without advice, e.g. `Recraft result could not be downloaded after 4 attempts (HTTP 503)`. */
    readonly summary: string,
    options?: { cause?: unknown },
  ) {
    super(`${summary}; retrying may help`, options);
  }
}

/**
 * The provider made (and charged for) the result, but it could not be downloaded even after the
 * download's retries. Not retried by the state machine: re-running the step would call the
 * provider again, a second charge. The client decides whether to submit again.
 */
export class ResultDownloadFailedError extends TaskError {
  override readonly name = 'ResultDownloadFailedError';
  readonly errorCode = 'provider_unavailable';
  readonly retryable = false;
}

/**
 * Supabase Storage kept failing to take a result after the step's own upload retries. Not
 * retried by the state machine: re-running the step would call the provider again.
 */
export class StorageUnavailableError extends TaskError {
  override readonly name = 'StorageUnavailableError';
  readonly errorCode = 'provider_unavailable';
  readonly retryable = false;
}

/** An asynchronous provider job did not finish before the task's deadline: not retried. */
export class JobDeadlineExceededError extends TaskError {
  override readonly name = 'JobDeadlineExceededError';
  readonly errorCode = 'provider_timeout';
  readonly retryable = false;
}

/** Provider refused the request (4xx other than rate limit): retrying will not help. */
export class ProviderRejectedError extends TaskError {
  override readonly name = 'ProviderRejectedError';
  readonly errorCode = 'provider_rejected';
  readonly retryable = false;
}

/** Provider refused the prompt, an input or its own output on content-policy grounds. */
export class ContentModeratedError extends TaskError {
  override readonly name = 'ContentModeratedError';
  readonly errorCode = 'content_moderated';
  readonly retryable = false;
}

export class InputNotFoundError extends TaskError {
  override readonly name = 'InputNotFoundError';
  readonly errorCode = 'input_not_found';
  readonly retryable = false;
}

export class InputTooLargeError extends TaskError {
  override readonly name = 'InputTooLargeError';
  readonly errorCode = 'input_too_large';
  readonly retryable = false;
}

export class InputInvalidError extends TaskError {
  override readonly name = 'InputInvalidError';
  readonly errorCode = 'input_invalid';
  readonly retryable = false;
}

/** Names of errors the state machine retries; must match the ASL's Retry blocks. */
export const RETRYABLE_ERROR_NAMES = [
  'ProviderUnavailableError',
  'ProviderRateLimitedError',
  'ProviderTimeoutError',
] as const;

const TASK_ERROR_CODES: Record<string, TaskErrorCode> = {
  ProviderUnavailableError: 'provider_unavailable',
  ProviderRateLimitedError: 'provider_unavailable',
  ProviderTimeoutError: 'provider_timeout',
  ProviderOutcomeUnknownError: 'provider_unavailable',
  ResultDownloadFailedError: 'provider_unavailable',
  StorageUnavailableError: 'provider_unavailable',
  JobDeadlineExceededError: 'provider_timeout',
  ProviderRejectedError: 'provider_rejected',
  ContentModeratedError: 'content_moderated',
  InputNotFoundError: 'input_not_found',
  InputTooLargeError: 'input_too_large',
  InputInvalidError: 'input_invalid',
  'States.Timeout': 'provider_timeout',
};

/** The error_code for an error name as the state machine reports it (`$.error.Error`). */
export function errorCodeFor(errorName: string): TaskErrorCode {
  return TASK_ERROR_CODES[errorName] ?? 'internal';
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

import type { FieldIssue, TaskErrorCode, TaskStatus } from './types.ts';

/**
 * Every error the client throws is a MakeIt3DError: an HTTP error answered by the API
 * (MakeIt3DApiError and its subclasses, by status; docs/api.md, Errors), a task that ended
 * `failed` (MakeIt3DTaskFailedError, with the task's `error` and `error_code`; docs/api.md, Task
 * status), a request that never got an answer (MakeIt3DNetworkError), or a wait that ran out of
 * time (MakeIt3DTimeoutError). An AbortSignal's abort rejects with the signal's own reason.
 */
export class MakeIt3DError extends Error {
  override name = 'MakeIt3DError';
  /** The HTTP status of the answer, when there was one. */
  readonly status: number | undefined;
  /** The one-sentence explanation: the API's `detail`, or the task's `error`. */
  readonly detail: string;
  /** The task's `error_code`, for a failed task. */
  readonly errorCode: TaskErrorCode | undefined;

  constructor(message: string, init: { status?: number; errorCode?: TaskErrorCode; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.detail = message;
    this.errorCode = init.errorCode;
  }
}

/** An HTTP error answered by the API: `{"detail": …}` (docs/api.md, Errors). */
export class MakeIt3DApiError extends MakeIt3DError {
  override name = 'MakeIt3DApiError';
  override readonly status: number;
  /** 400 validation answers: one entry per field problem. */
  readonly errors: FieldIssue[];
  /** The answer's `x-request-id`: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Seconds from the answer's `Retry-After` (429, 503). */
  readonly retryAfterSeconds: number | undefined;
  /** The parsed answer body (or its text when it was not JSON). */
  readonly body: unknown;

  constructor(
    status: number,
    detail: string,
    init: { errors?: FieldIssue[]; requestId?: string; retryAfterSeconds?: number; body?: unknown } = {},
  ) {
    super(detail, { status });
    this.status = status;
    this.errors = init.errors ?? [];
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.body = init.body;
  }
}

/** 400: the body (or a header) is invalid; `errors` names each field. */
export class MakeIt3DValidationError extends MakeIt3DApiError {
  override name = 'MakeIt3DValidationError';
}
/** 401: no API key, an unknown or inactive one, or a wrong registration secret. */
export class MakeIt3DAuthenticationError extends MakeIt3DApiError {
  override name = 'MakeIt3DAuthenticationError';
}
/** 404: unknown path or operation, or a task that does not exist (or is another tenant's). */
export class MakeIt3DNotFoundError extends MakeIt3DApiError {
  override name = 'MakeIt3DNotFoundError';
}
/** 409: the Idempotency-Key was used with another body, or its first request is in flight. */
export class MakeIt3DConflictError extends MakeIt3DApiError {
  override name = 'MakeIt3DConflictError';
}
/** 429: a rate limit; `retryAfterSeconds` says when to try again. */
export class MakeIt3DRateLimitError extends MakeIt3DApiError {
  override name = 'MakeIt3DRateLimitError';
}
/** 503: a store or the workflow is briefly unavailable (or the local stack is starting). */
export class MakeIt3DUnavailableError extends MakeIt3DApiError {
  override name = 'MakeIt3DUnavailableError';
}
/** 5xx other than 503: the service's own fault (quote `requestId`). */
export class MakeIt3DServerError extends MakeIt3DApiError {
  override name = 'MakeIt3DServerError';
}

/** The request never got an HTTP answer (DNS, refused or reset connection, TLS…). */
export class MakeIt3DNetworkError extends MakeIt3DError {
  override name = 'MakeIt3DNetworkError';
}

/** The task ended `failed`: `detail` is its `error`, `errorCode` its `error_code`. */
export class MakeIt3DTaskFailedError extends MakeIt3DError {
  override name = 'MakeIt3DTaskFailedError';
  override readonly errorCode: TaskErrorCode;
  readonly jobId: string;
  /** The task's last status answer. */
  readonly task: TaskStatus;

  constructor(task: TaskStatus) {
    const code = (task.error_code ?? 'internal') as TaskErrorCode;
    super(task.error ?? 'The task failed', { errorCode: code });
    this.errorCode = code;
    this.jobId = task.task_id;
    this.task = task;
  }
}

/** waitForResult's timeout passed before the task finished; the task itself may still finish. */
export class MakeIt3DTimeoutError extends MakeIt3DError {
  override name = 'MakeIt3DTimeoutError';
  readonly jobId: string;
  /** The last status read, if any. */
  readonly lastStatus: TaskStatus | undefined;

  constructor(jobId: string, timeoutMs: number, lastStatus: TaskStatus | undefined) {
    super(`Task ${jobId} did not finish within ${Math.round(timeoutMs / 1000)} seconds`);
    this.jobId = jobId;
    this.lastStatus = lastStatus;
  }
}

const BY_STATUS: Record<number, typeof MakeIt3DApiError> = {
  400: MakeIt3DValidationError,
  401: MakeIt3DAuthenticationError,
  404: MakeIt3DNotFoundError,
  409: MakeIt3DConflictError,
  429: MakeIt3DRateLimitError,
  503: MakeIt3DUnavailableError,
};

/** The typed error of an HTTP error answer. */
export function apiError(
  status: number,
  body: unknown,
  headers: { get(name: string): string | null },
): MakeIt3DApiError {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const detail =
    typeof record.detail === 'string'
      ? record.detail
      : typeof record.message === 'string'
        ? record.message // API Gateway's own throttling body
        : `HTTP ${status}`;
  const errors = Array.isArray(record.errors)
    ? (record.errors as unknown[]).filter(
        (entry): entry is FieldIssue =>
          typeof entry === 'object' &&
          entry !== null &&
          typeof (entry as FieldIssue).field === 'string' &&
          typeof (entry as FieldIssue).message === 'string',
      )
    : [];
  const retryAfterSeconds = parseRetryAfter(headers.get('retry-after'));
  const init = {
    errors,
    body,
    ...(headers.get('x-request-id') ? { requestId: headers.get('x-request-id') as string } : {}),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
  const Class = BY_STATUS[status] ?? (status >= 500 ? MakeIt3DServerError : MakeIt3DApiError);
  return new Class(status, detail, init);
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}

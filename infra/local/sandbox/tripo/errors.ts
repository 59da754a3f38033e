import type { Fault } from '../sandbox.ts';
import { jsonResponse } from '../sandbox.ts';
import { type Outcome, tripoSandboxSettings } from './state.ts';

/**
 * Tripo v3 error answers. The envelope is `{code, status: "error", message, suggestion,
 * request_id}` (tryAGI/Tripo openapi.yaml `ErrorResponse`, kept from developers.tripo3d.ai/en/docs,
 * checked 2026-12-02; Tripo's migration skill "tripo-v2-to-v3-migration" §1). Tripo says the v3
 * codes are "intentionally aligned with V2", so codes and HTTP statuses follow the v2 table where
 * v3 sources say nothing else (v2 docs copy in github.com/funmagic-ai/magi-3d-sdk tripo/task.md).
 */

interface ErrorInfo {
  status: number;
  message: string;
  suggestion: string;
}

const RETRY_LATER = 'Please retry later; if it persists, contact support with the request id.';

export const ERRORS: Record<number, ErrorInfo> = {
  1000: { status: 500, message: 'Unknown error.', suggestion: RETRY_LATER },
  1001: { status: 500, message: 'Fatal server error.', suggestion: RETRY_LATER },
  // The auth body code differs between sources (2, 1000/1001, 1002); clients must branch on HTTP 401.
  1002: { status: 401, message: 'Invalid API key.', suggestion: 'Please check your API key and region.' },
  1003: {
    status: 400,
    message: 'The request is malformed.',
    suggestion: 'Please send a JSON object with Content-Type: application/json.',
  },
  1004: {
    status: 400,
    message: 'Invalid parameter.',
    suggestion: 'Please check the parameters against the documentation.',
  },
  1005: {
    status: 403,
    message: 'You are not allowed to access this resource.',
    suggestion: 'Please check your permissions.',
  },
  1007: {
    status: 429,
    message: 'You have exceeded the request rate limit.',
    suggestion: 'Please slow down and retry later.',
  },
  2000: {
    status: 429,
    message: 'You have exceeded the concurrency limit.',
    suggestion: 'Please wait for running tasks to finish and retry later.',
  },
  2001: {
    status: 404,
    message: 'Task not found.',
    suggestion: 'Please check if you passed the correct task id.',
  },
  2002: {
    status: 400,
    message: 'The task type is unsupported.',
    suggestion: 'Please check if you passed the correct task type.',
  },
  2003: {
    status: 400,
    message: 'The input file is empty.',
    suggestion: 'Please check if you passed a file, or it may be rejected by our firewall.',
  },
  2004: {
    status: 400,
    message: 'The file type is unsupported.',
    suggestion: 'Please check if the file you input is supported.',
  },
  2006: {
    status: 400,
    message: 'The original task type is invalid.',
    suggestion: 'Please use a task of a supported type.',
  },
  2007: {
    status: 400,
    message: 'The original task is not a succeeded task.',
    suggestion: 'Please use a successful task.',
  },
  2008: {
    status: 400,
    message: 'Task is rejected because the input violates our content policy.',
    suggestion: 'Please modify your input and retry. If you believe the input should be valid, contact us.',
  },
  2010: {
    status: 403,
    message: 'You need more credits to start a new task.',
    suggestion: 'Please review your usage at Billing and purchase more credits.',
  },
  2013: {
    status: 403,
    message: 'Invalid priority.',
    suggestion: 'Your account is not entitled to this priority tier.',
  },
  2014: {
    status: 500,
    message: 'Audit service error.',
    suggestion: 'Content moderation service encountered an error. Please retry or contact support.',
  },
  2015: {
    status: 400,
    message: 'The version has been deprecated, please try higher version.',
    suggestion: 'Try higher version please.',
  },
  2016: {
    status: 400,
    message: 'The request type has been deprecated.',
    suggestion: 'Please use a supported endpoint.',
  },
  2017: {
    status: 400,
    message: 'Invalid model version.',
    suggestion: 'The model parameter is invalid. Please check the available versions.',
  },
  2018: {
    status: 400,
    message: 'The task expired in the queue.',
    suggestion: 'Please submit the task again.',
  },
  4001: {
    status: 404,
    message: 'Route not found.',
    suggestion: 'Please check the path against the Tripo v3 documentation.',
  },
};

/** A rejection found while handling a request; the router turns it into Tripo's error body. */
export class TripoFailure extends Error {
  override readonly name = 'TripoFailure';
  constructor(
    readonly code: number,
    readonly detail?: string,
    /** Overrides the table's HTTP status (405/415 for 1003). */
    readonly httpStatus?: number,
  ) {
    super(detail ?? ERRORS[code]?.message ?? `Tripo error ${code}`);
  }
}

export const invalid = (detail: string): TripoFailure => new TripoFailure(1004, detail);

export function tripoError(
  requestId: string,
  code: number,
  options: { status?: number; detail?: string } = {},
): Response {
  const known = ERRORS[code] ?? ERRORS[1000];
  const status = options.status ?? known?.status ?? 500;
  const message = options.detail ?? known?.message ?? '';
  // Tripo sends Retry-After on its 429s (concurrency and request rate).
  const headers: Record<string, string> =
    status === 429 ? { 'retry-after': String(tripoSandboxSettings.retryAfterSeconds) } : {};
  return jsonResponse(
    status,
    { code, status: 'error', message, suggestion: known?.suggestion ?? '', request_id: requestId },
    headers,
  );
}

export function success(data: unknown): Response {
  return jsonResponse(200, { code: 0, status: 'success', data });
}

const FAULT_CODES: Record<number, number> = {
  400: 1004,
  401: 1002,
  403: 2010,
  404: 2001,
  405: 1003,
  415: 1003,
  429: 2000,
};

/** A `status` fault: that HTTP status with Tripo's body for it; a 4-digit `outcome` picks the code. */
export function faultResponse(requestId: string, fault: Fault & { status: number }): Response {
  const chosen = fault.outcome !== undefined && /^\d{4}$/.test(fault.outcome) ? Number(fault.outcome) : NaN;
  const code = ERRORS[chosen] ? chosen : (FAULT_CODES[fault.status] ?? 1000);
  return tripoError(requestId, code, { status: fault.status });
}

const DOCUMENTED_STATUSES = ['queued', 'running', 'success', 'failed', 'cancelled'];
const LEGACY_STATUSES = ['banned', 'expired', 'unknown'];

/** The `outcome` of a fault → how the next created task ends (documented in tripo.ts). */
export function toOutcome(value: string): Outcome {
  const failed = /^failed(?::(\d+))?$/.exec(value);
  if (failed) {
    const code = failed[1] === undefined ? 1001 : Number(failed[1]);
    return {
      status: 'failed',
      // Queue expiry ends a task before it runs; other failures happen while it runs.
      when: code === 2018 ? 'after-queue' : 'mid-run',
      terminal: true,
      errorCode: code,
      errorMessage: ERRORS[code]?.message ?? 'The task failed.',
    };
  }
  const named = /^status:(.+)$/.exec(value)?.[1];
  if (named !== undefined) {
    if (named === 'queued' || named === 'running') return { status: named, when: 'never', terminal: false };
    if (DOCUMENTED_STATUSES.includes(named) || LEGACY_STATUSES.includes(named)) return toOutcome(named);
    if (/^[A-Za-z][A-Za-z0-9_-]*$/.test(named)) return { status: named, when: 'mid-run', terminal: false };
  }
  switch (value) {
    case 'success':
      return { status: 'success', when: 'after-run', terminal: true };
    case 'cancelled':
      return { status: 'cancelled', when: 'after-queue', terminal: true };
    case 'banned':
      return {
        status: 'banned',
        when: 'after-run',
        terminal: true,
        errorMessage: ERRORS[2008]?.message ?? 'Banned.',
      };
    case 'expired':
      return {
        status: 'expired',
        when: 'after-queue',
        terminal: true,
        errorMessage: ERRORS[2018]?.message ?? 'Expired.',
      };
    case 'unknown':
      return {
        status: 'unknown',
        when: 'mid-run',
        terminal: false,
        errorMessage: 'The task status cannot be determined.',
      };
    default:
      return {
        status: 'failed',
        when: 'mid-run',
        terminal: true,
        errorCode: 1000,
        errorMessage: `Unknown sandbox outcome "${value}"`,
      };
  }
}

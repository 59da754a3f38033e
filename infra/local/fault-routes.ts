import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http-utils.ts';

/**
 * The fault routes of the local host share one shape (the sandbox providers'
 * `/__sandbox/<provider>/faults`, Storage's `/__storage/faults`, the tables' `/__tables/faults`):
 * `POST` a JSON fault (201 with it), `DELETE` to clear them (200), anything else 405; a body
 * that is not JSON or not a valid fault is a 400 whose `detail` says what is wrong.
 */
export interface FaultRoute<F> {
  /** Checks a body; a string says what is wrong. */
  parse(body: unknown): F | string;
  add(fault: F): void;
  clear(): void;
  /** The 201 body (default `{fault}`). */
  created?(fault: F): unknown;
}

export async function serveFaultRoute<F>(
  request: IncomingMessage,
  response: ServerResponse,
  route: FaultRoute<F>,
): Promise<void> {
  const method = (request.method ?? 'GET').toUpperCase();
  if (method === 'DELETE') {
    route.clear();
    sendJson(response, 200, { cleared: true });
    return;
  }
  if (method !== 'POST') {
    sendJson(
      response,
      405,
      { detail: 'Use POST to add a fault or DELETE to clear them' },
      { allow: 'POST, DELETE' },
    );
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse((await readBody(request, 64 * 1024)).toString('utf8'));
  } catch {
    sendJson(response, 400, { detail: 'Request body must be valid JSON' });
    return;
  }
  const fault = route.parse(body);
  if (typeof fault === 'string') {
    sendJson(response, 400, { detail: fault });
    return;
  }
  route.add(fault);
  sendJson(response, 201, route.created ? route.created(fault) : { fault });
}

/** What is wrong with a fault's `times` (how many requests it applies to), if anything. */
export function invalidTimes(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'times must be an integer >= 1';
}

/** What is wrong with a fault's `status` (the HTTP error it answers), if anything. */
export function invalidErrorStatus(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599
    ? undefined
    : 'status must be an HTTP error status between 400 and 599';
}

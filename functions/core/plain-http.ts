import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isAppError, MethodNotAllowedError, PayloadTooLargeError } from './errors.ts';
import { describeError, invocationLogger, logger } from './logger.ts';
import { errorStack } from './observability/error-stack.ts';

/**
 * The HTTP answer shape every API Lambda shares, without the middleware stack: http.ts builds
 * its handlers on these, and the routes that need no key, body or dependency (health,
 * not-found) use `plainApiHandler` alone, so their bundles stay free of middy, zod and the AWS
 * SDK (test/infra/bundle-budgets.test.ts holds them to it).
 */

export const MAX_BODY_BYTES = 1024 * 1024;

export type LambdaResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): LambdaResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** API Gateway's request id, answered as `x-request-id` (a fresh one when there is none). */
export function requestIdOf(event: APIGatewayProxyEventV2): string {
  return event.requestContext?.requestId || randomUUID();
}

/** 413 before anything reads a body larger than the API accepts (decoded size when base64). */
export function checkBodySize(event: APIGatewayProxyEventV2): void {
  const { body, isBase64Encoded } = event;
  if (body === undefined) return;
  const size = isBase64Encoded ? Buffer.from(body, 'base64').length : Buffer.byteLength(body, 'utf8');
  if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError('Request body must not exceed 1 MiB');
}

/**
 * The answer for an error below 500 (docs/api.md, Conventions: `{"detail": …}`), with the headers its status
 * implies; undefined for anything else, which the caller logs and answers itself.
 */
export function clientErrorResponse(
  error: unknown,
  headers: Record<string, string>,
): LambdaResult | undefined {
  if (!isAppError(error) || error.statusCode >= 500) return undefined;
  const answerHeaders = { ...headers };
  if (error instanceof MethodNotAllowedError) answerHeaders.allow = error.allow.join(', ');
  if (error.retryAfterSeconds !== undefined) answerHeaders['retry-after'] = String(error.retryAfterSeconds);
  return json(error.statusCode, { detail: error.message }, answerHeaders);
}

/**
 * The frame of a handler that loads nothing heavy (no middy, zod or store): the invocation's
 * logger and request id, and the same error answers as http.ts `apiHandler` (errors below 500 as
 * `{"detail": …}`, anything else 500 without its message and logged). `answer` gets the headers
 * every answer carries (`x-request-id`).
 */
export function plainHandler(
  answer: (
    event: APIGatewayProxyEventV2,
    headers: Record<string, string>,
  ) => LambdaResult | Promise<LambdaResult>,
): (event: APIGatewayProxyEventV2, context: Context) => Promise<LambdaResult> {
  return (event, context) => {
    const requestId = requestIdOf(event);
    const log = invocationLogger(context, { request_id: requestId, route: event.routeKey });
    const started = Date.now();
    return log.run(async () => {
      const headers = { 'x-request-id': requestId };
      let response: LambdaResult;
      try {
        response = await answer(event, headers);
      } catch (error) {
        response = clientErrorResponse(error, headers) ?? serverErrorResponse(error, headers);
      }
      log.debug('Request answered', { status: response.statusCode, duration_ms: Date.now() - started });
      return response;
    });
  };
}

/** A fault of ours: logged (inside the invocation's `run`, so with its keys), answered without its message. */
function serverErrorResponse(error: unknown, headers: Record<string, string>): LambdaResult {
  logger.error('Unhandled error', {
    ...describeError(error),
    stack: errorStack(error),
  });
  return json(500, { detail: 'Internal server error' }, headers);
}

/**
 * A handler for a route that reads nothing but the method and path: JSON answers in
 * `plainHandler`'s frame, and 413 for an oversized body.
 */
export function plainApiHandler(
  fn: (event: APIGatewayProxyEventV2) => { statusCode: number; body: unknown },
): (event: APIGatewayProxyEventV2, context: Context) => Promise<LambdaResult> {
  return plainHandler((event, headers) => {
    checkBodySize(event);
    const result = fn(event);
    return json(result.statusCode, result.body, headers);
  });
}

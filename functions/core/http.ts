import { randomUUID } from 'node:crypto';
import middy, { type MiddlewareObj } from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { authenticate, type Tenant } from './auth/api-keys.ts';
import { enforceRateLimit, type RateBucket } from './auth/rate-limiter.ts';
import {
  isAppError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from './errors.ts';
import { describeError, type Logger, logger } from './logger.ts';

/**
 * The one place where errors become HTTP answers (contract §1: every error body is
 * `{"detail": …}`; only < 500 messages are shown to callers) and where every API Lambda gets
 * its request id, JSON body and tenant.
 */

export const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiRequest {
  event: APIGatewayProxyEventV2;
  body: unknown;
  headers: Record<string, string>;
  pathParameters: Record<string, string>;
  query: Record<string, string>;
  requestId: string;
  log: Logger;
  /** Present on routes that require an API key. */
  tenant?: Tenant;
}

export interface ApiResult {
  statusCode: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiHandlerOptions {
  /** Require `X-API-Key` and count the request against this rate-limit bucket. */
  auth?: RateBucket;
  /** Parse the body as JSON (POST routes). */
  jsonBody?: boolean;
}

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface State {
  requestId: string;
  log: Logger;
  tenant?: Tenant;
}

const states = new WeakMap<object, State>();

function stateOf(event: object): State {
  const state = states.get(event);
  if (state) return state;
  const fresh = { requestId: randomUUID(), log: logger };
  states.set(event, fresh);
  return fresh;
}

function lowercaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) result[key.toLowerCase()] = value;
  }
  return result;
}

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

const requestContext: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => {
    const event = request.event;
    event.headers = lowercaseHeaders(event.headers);
    const requestId = event.requestContext?.requestId || randomUUID();
    states.set(event, {
      requestId,
      log: logger.child({ request_id: requestId, route: event.routeKey }),
    });
  },
  after: (request) => {
    const { requestId } = stateOf(request.event);
    if (request.response) {
      request.response.headers = { ...request.response.headers, 'x-request-id': requestId };
    }
  },
};

/** Maps any thrown error to the contract's error body. */
export function errorResponse(
  error: unknown,
  requestId: string,
  log: Logger,
): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (isBodyParserError(error)) {
    return json(400, { detail: 'Request body must be valid JSON' }, headers);
  }
  if (error instanceof ValidationError) {
    const body =
      error.issues.length > 0 ? { detail: error.message, errors: error.issues } : { detail: error.message };
    return json(400, body, headers);
  }
  if (error instanceof UnauthorizedError && error.challenge) headers['www-authenticate'] = 'ApiKey';
  if (error instanceof RateLimitedError) headers['retry-after'] = String(error.retryAfterSeconds);
  if (error instanceof MethodNotAllowedError) headers.allow = error.allow.join(', ');
  if (isAppError(error) && error.statusCode < 500) {
    return json(error.statusCode, { detail: error.message }, headers);
  }
  if (isAppError(error) && error.statusCode === 503) {
    log.warn('Dependency unavailable', describeError(error));
    return json(503, { detail: error.message }, { ...headers, 'retry-after': '5' });
  }
  log.error('Unhandled error', {
    ...describeError(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return json(500, { detail: 'Internal server error' }, headers);
}

function isBodyParserError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const cause = (error as Error & { cause?: { package?: string } }).cause;
  return typeof cause === 'object' && cause !== null && cause.package === '@middy/http-json-body-parser';
}

const errorResponder: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  onError: (request) => {
    const { requestId, log } = stateOf(request.event);
    request.response = errorResponse(request.error, requestId, log);
  },
};

const bodyLimit: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => {
    const { body, isBase64Encoded } = request.event;
    if (body === undefined) return;
    const size = isBase64Encoded ? Buffer.from(body, 'base64').length : Buffer.byteLength(body, 'utf8');
    if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError('Request body must not exceed 1 MiB');
  },
};

function apiKeyAuth(
  bucket: RateBucket,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    before: async (request) => {
      const state = stateOf(request.event);
      const tenant = await authenticate(request.event.headers['x-api-key']);
      state.tenant = tenant;
      state.log = state.log.child({ tenant_id: tenant.tenant_id });
      await enforceRateLimit(tenant.tenant_id, bucket);
    },
  };
}

/**
 * Wraps a business function as an API Gateway (HTTP API, payload 2.0) Lambda handler.
 * Middleware order: request id → error answers → body size → API key → rate limit → JSON, so the
 * key is checked before anything about the request is interpreted.
 */
export function apiHandler(
  fn: (request: ApiRequest) => Promise<ApiResult>,
  options: ApiHandlerOptions = {},
): Handler {
  const chain = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(requestContext)
    .use(errorResponder)
    .use(bodyLimit);
  if (options.auth) chain.use(apiKeyAuth(options.auth));
  if (options.jsonBody) chain.use(httpJsonBodyParser({ disableContentTypeCheck: true }));
  const handler = chain.handler(async (event) => {
    const state = stateOf(event);
    const result = await fn({
      event,
      body: event.body,
      headers: event.headers as Record<string, string>,
      pathParameters: (event.pathParameters ?? {}) as Record<string, string>,
      query: (event.queryStringParameters ?? {}) as Record<string, string>,
      requestId: state.requestId,
      log: state.log,
      ...(state.tenant ? { tenant: state.tenant } : {}),
    });
    return json(result.statusCode, result.body ?? null, result.headers);
  });
  return (event, context) => handler(event, context);
}

/** The tenant of an authenticated request (routes wrapped with `auth`). */
export function tenantOf(request: ApiRequest): Tenant {
  if (!request.tenant) throw new UnauthorizedError('Missing API key');
  return request.tenant;
}

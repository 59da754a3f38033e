import { randomUUID } from 'node:crypto';
import middy, { type MiddlewareObj } from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { authenticate, type Tenant } from './auth/api-keys.ts';
import { enforceRateLimit, type RateBucket } from './auth/rate-limiter.ts';
import { isAppError, UnauthorizedError, ValidationError } from './errors.ts';
import { describeError, invocationLogger, type Logger, logger } from './logger.ts';
import { errorStack } from './observability/error-stack.ts';
import { checkBodySize, clientErrorResponse, json, MAX_BODY_BYTES } from './plain-http.ts';

/**
 * The one place where errors become HTTP answers (docs/api.md, Conventions: every error body is
 * `{"detail": …}`; only < 500 messages are shown to callers) and where every API Lambda gets
 * its request id, JSON body and tenant.
 */

export { MAX_BODY_BYTES };

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
  // fromEntries, not assignment: a header named `__proto__` stays a plain key.
  return Object.fromEntries(
    Object.entries(headers ?? {})
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => [key.toLowerCase(), value]),
  );
}

const requestContext: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => {
    request.event.headers = lowercaseHeaders(request.event.headers);
  },
  after: (request) => {
    const { requestId } = stateOf(request.event);
    if (request.response) {
      request.response.headers = { ...request.response.headers, 'x-request-id': requestId };
    }
  },
};

/** Maps any thrown error to the API's error body (docs/api.md, Errors). */
export function errorResponse(
  error: unknown,
  requestId: string,
  log: Logger,
): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = { 'x-request-id': requestId };
  const parserError = bodyParserError(error);
  if (parserError) return json(400, parserError, headers);
  if (error instanceof ValidationError) {
    const body =
      error.issues.length > 0 ? { detail: error.message, errors: error.issues } : { detail: error.message };
    return json(400, body, headers);
  }
  if (error instanceof UnauthorizedError && error.challenge) headers['www-authenticate'] = 'ApiKey';
  const clientError = clientErrorResponse(error, headers);
  if (clientError) return clientError;
  if (isAppError(error) && error.statusCode === 503) {
    log.warn('Dependency unavailable', describeError(error));
    return json(503, { detail: error.message }, { ...headers, 'retry-after': '5' });
  }
  log.error('Unhandled error', {
    ...describeError(error),
    stack: errorStack(error),
  });
  return json(500, { detail: 'Internal server error' }, headers);
}

/** The answer for an error of @middy/http-json-body-parser: broken JSON, or a forbidden key. */
function bodyParserError(error: unknown): Record<string, unknown> | undefined {
  if (!(error instanceof Error)) return undefined;
  const cause = (error as Error & { cause?: { package?: string; data?: unknown } }).cause;
  if (typeof cause !== 'object' || cause === null || cause.package !== '@middy/http-json-body-parser')
    return undefined;
  if (error.message === 'Forbidden key in JSON body') {
    // Keys that would change an object's prototype when assigned (`__proto__`, `constructor.prototype`).
    const key = String(cause.data);
    return {
      detail: `Request body must not use the key '${key}'`,
      errors: [{ field: key, message: 'is not an allowed key' }],
    };
  }
  return { detail: 'Request body must be valid JSON' };
}

const errorResponder: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  onError: (request) => {
    const { requestId, log } = stateOf(request.event);
    request.response = errorResponse(request.error, requestId, log);
  },
};

const bodyLimit: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => checkBodySize(request.event),
};

function apiKeyAuth(
  bucket: RateBucket,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    before: async (request) => {
      const state = stateOf(request.event);
      const tenant = await authenticate(request.event.headers['x-api-key']);
      state.tenant = tenant;
      // Every later line of this request, in any module, names the tenant.
      state.log.appendKeys({ tenant_id: tenant.tenant_id });
      await enforceRateLimit(tenant.tenant_id, bucket);
    },
  };
}

/**
 * How deep objects and arrays may nest in a request body (`{}` is 1 level). DynamoDB refuses an
 * attribute nested more than 32 levels (Amazon DynamoDB Developer Guide, "Constraints" →
 * Attributes, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html,
 * checked 2026-12); a body field kept as an attribute (registration metadata) is one level below
 * the body, so within this limit it can always be stored. And code that walks a body recursively
 * (the idempotency fingerprint, zod) must never meet a depth that overflows the stack. No field
 * of the API nests more than a few levels.
 */
const MAX_BODY_DEPTH = 32;
/** Deeper than this, a body is refused before parsing: the parser's reviver recurses per level. */
const MAX_PARSED_DEPTH = 512;

/**
 * DynamoDB numbers lie between 1e-130 and 9.99…e125 in magnitude (Developer Guide, "Supported
 * data types", checked 2026-12). A magnitude of 1e126 or more, or one too large for a double
 * (JSON `1e400` parses as Infinity), has no stored form, so it is refused here with the field's
 * name rather than failing a write later; tiny magnitudes are stored as 0 (store/dynamo.ts).
 */
const MAX_NUMBER_MAGNITUDE = 1e126;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as text. API Gateway base64-encodes bodies it does not treat as text (and the local
 * gateway also bytes that are not UTF-8); those must decode as UTF-8 (RFC 8259 §8.1). A leading
 * byte order mark is dropped, as RFC 8259 allows parsers to.
 */
function bodyText(event: APIGatewayProxyEventV2): string {
  const { body, isBase64Encoded } = event;
  if (body === undefined || body === null) return '';
  if (!isBase64Encoded) return body.startsWith('\uFEFF') ? body.slice(1) : body;
  try {
    // TextDecoder drops a leading BOM itself.
    return utf8.decode(Buffer.from(body, 'base64'));
  } catch {
    throw new ValidationError('Request body must be UTF-8 encoded JSON');
  }
}

function fieldPath(path: readonly string[]): string {
  return path.length > 0 ? path.join('.') : 'body';
}

/**
 * Checks what every handler relies on before it looks at a parsed body: bounded nesting, no key
 * that changes an object's prototype when assigned (`__proto__`, or `prototype` under
 * `constructor`, as merge helpers and zod's record parser assign keys), and numbers DynamoDB can
 * store. Iterative, so no body can overflow the stack here.
 */
function checkBodyShape(body: unknown): void {
  const pending: { value: unknown; path: string[] }[] = [{ value: body, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || Math.abs(value) >= MAX_NUMBER_MAGNITUDE) {
        const field = fieldPath(path);
        const message = 'must be a number greater than -1e126 and less than 1e126';
        throw new ValidationError(`Invalid request: ${field} ${message}`, [{ field, message }]);
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    // `path` holds one key per enclosing container, so its length is this container's depth - 1.
    if (path.length + 1 > MAX_BODY_DEPTH) {
      throw new ValidationError(
        `Request body must not nest objects and arrays more than ${MAX_BODY_DEPTH} levels deep`,
        [{ field: fieldPath(path), message: `is nested more than ${MAX_BODY_DEPTH} levels deep` }],
      );
    }
    for (const [key, child] of Object.entries(value)) {
      const forbidden = key === '__proto__' || (key === 'prototype' && path.at(-1) === 'constructor');
      if (forbidden) {
        const field = fieldPath([...path, key]);
        throw new ValidationError(`Request body must not use the key '${key}' (at ${field})`, [
          { field, message: 'is not an allowed key' },
        ]);
      }
      pending.push({ value: child, path: [...path, key] });
    }
  }
}

/**
 * The deepest nesting of `{`/`[` in JSON text, counted without parsing (strings skipped), so a
 * body nested thousands of levels deep is refused before the parser's reviver, which recurses,
 * could overflow the stack on it.
 */
function textDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x7d || code === 0x5d) depth--;
  }
  return deepest;
}

/**
 * Before the JSON parser: the body as UTF-8 text without a BOM, and not nested deeper than the
 * limit (`bodyText`, `textDepth`).
 */
const jsonText: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => {
    const event = request.event;
    if (event.body === undefined || event.body === null) return;
    const text = bodyText(event);
    // Bodies within a few times the limit are parsed, so checkBodyShape can name the field.
    if (textDepth(text) > MAX_PARSED_DEPTH) {
      throw new ValidationError(
        `Request body must not nest objects and arrays more than ${MAX_BODY_DEPTH} levels deep`,
        [{ field: 'body', message: `is nested more than ${MAX_BODY_DEPTH} levels deep` }],
      );
    }
    event.body = text;
    event.isBase64Encoded = false;
  },
};

/** After the JSON parser: the parsed body's shape (`checkBodyShape`). */
const jsonShape: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> = {
  before: (request) => checkBodyShape(request.event.body),
};

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
  if (options.jsonBody) {
    // Any content type, as before: clients send JSON without saying so.
    chain
      .use(jsonText)
      .use(httpJsonBodyParser({ disableContentTypeCheck: true }))
      .use(jsonShape);
  }
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
  return (event, context) => {
    // One logger per invocation, made before the middleware runs so that everything logged while
    // it runs (the key check, the error answer) carries the request: API Gateway's request id
    // (answered as x-request-id), the route, and from the Lambda context its request id and
    // cold start flag.
    const requestId = event.requestContext?.requestId || randomUUID();
    const log = invocationLogger(context, { request_id: requestId, route: event.routeKey });
    states.set(event, { requestId, log });
    const started = Date.now();
    return log.run(async () => {
      const response = await handler(event, context);
      log.debug('Request answered', { status: response.statusCode, duration_ms: Date.now() - started });
      return response;
    });
  };
}

/** The tenant of an authenticated request (routes wrapped with `auth`). */
export function tenantOf(request: ApiRequest): Tenant {
  if (!request.tenant) throw new UnauthorizedError('Missing API key');
  return request.tenant;
}

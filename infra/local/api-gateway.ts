import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { handler as apiDocs } from '../../functions/api/api-docs.ts';
import { handler as getTaskStatus } from '../../functions/api/get-task-status.ts';
import { handler as health } from '../../functions/api/health.ts';
import { handler as notFound } from '../../functions/api/not-found.ts';
import { handler as providerWebhook } from '../../functions/api/provider-webhook.ts';
import { handler as registerApiKey } from '../../functions/api/register-api-key.ts';
import { type ApiFunctionName, matchRoute } from '../../functions/api/routes.ts';
import { handler as submitGeneration } from '../../functions/api/submit-generation.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-utils.ts';

/**
 * API Gateway (HTTP API, payload format 2.0) on one machine: the same route table and the same
 * Lambda handlers as the deployed stack, fed the event shape API Gateway sends.
 */

type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const HANDLERS: Record<ApiFunctionName, ApiHandler> = {
  'submit-generation': submitGeneration,
  'get-task-status': getTaskStatus,
  'register-api-key': registerApiKey,
  health,
  'not-found': notFound,
  'api-docs': apiDocs,
  'provider-webhook': providerWebhook,
};

/** API Gateway's own payload limit (10 MB); the handlers enforce the API's 1 MiB. */
const GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024;

function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const TEXT_TYPES = /^(application\/(json|x-www-form-urlencoded|xml)|text\/)/i;

export async function serveApi(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(request, GATEWAY_PAYLOAD_LIMIT);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      sendJson(response, 413, { detail: 'Request body must not exceed 1 MiB' });
      return;
    }
    throw error;
  }
  const result = await invokeApi({
    method: request.method ?? 'GET',
    url,
    headers: request.headers,
    body,
    httpVersion: request.httpVersion,
    sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
  });
  const outHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) outHeaders[key] = String(value);
  const payload =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  response.writeHead(result.statusCode ?? 200, outHeaders);
  response.end(payload);
}

/** One HTTP request as the gateway sees it, once its body has been read. */
export interface GatewayRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  httpVersion?: string;
  sourceIp?: string;
}

/**
 * Builds the event API Gateway sends for a request and runs the route's handler with it. Also
 * called directly by tests that send many requests (the same code as over HTTP, minus sockets).
 */
export async function invokeApi(request: GatewayRequest): Promise<APIGatewayProxyStructuredResultV2> {
  const { url, body } = request;
  const method = request.method.toUpperCase();
  const match = matchRoute(method, url.pathname);
  const handlerName: ApiFunctionName = match.kind === 'route' ? match.route.handler : 'not-found';
  const routeKey = match.kind === 'route' ? `${match.route.method} ${match.route.path}` : '$default';

  // Built with Object.fromEntries so a header or query parameter named `__proto__` stays a plain
  // key, as it is in the JSON event API Gateway sends.
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(request.headers)
      .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
      .map(([key, value]) => [key.toLowerCase(), Array.isArray(value) ? value.join(',') : value]),
  );
  const joined = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    const earlier = joined.get(key);
    joined.set(key, earlier === undefined ? value : `${earlier},${value}`);
  }
  const query: Record<string, string> = Object.fromEntries(joined);
  // Text goes as it is, anything else base64-encoded, as API Gateway does. Bytes that are not
  // UTF-8 go base64-encoded too: decoded as text, each bad byte would become a 3-byte U+FFFD and
  // a body just under the 1 MiB limit would grow past it (and no longer be what was sent).
  const isText =
    body.length === 0 || (TEXT_TYPES.test(headers['content-type'] ?? 'application/json') && isUtf8(body));
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(joined.size > 0 ? { queryStringParameters: query } : {}),
    ...(match.kind === 'route' && Object.keys(match.pathParameters).length > 0
      ? { pathParameters: match.pathParameters }
      : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion ?? '1.1'}`,
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
  return HANDLERS[handlerName](event, lambdaContext(handlerName));
}

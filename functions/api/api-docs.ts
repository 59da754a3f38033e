import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { NotFoundError } from '../core/errors.ts';
import {
  DOCS_ASSETS,
  DOCS_CONTENT_SECURITY_POLICY,
  DOCS_HTML,
  DOCS_INIT_SCRIPT,
  INIT_SCRIPT_NAME,
  readDocsAsset,
} from '../core/openapi/docs-page.ts';
import { buildOpenApiDocument } from '../core/openapi/document.ts';
import { checkBodySize, type LambdaResult, plainHandler } from '../core/plain-http.ts';

/**
 * GET /openapi.json, GET /docs and GET /docs/{asset} (docs/api.md, OpenAPI and /docs): the
 * OpenAPI document built from the request schemas, and the Swagger UI page rendering it, with
 * its files. No API key. Loads the schemas, never a provider client, a store or a codec.
 */

/** The operations' base URL, relative to the document: the API that serves it, under any prefix. */
const SERVER_URL = '.';

interface Body {
  bytes: Buffer;
  gzipped?: Buffer;
  contentType: string;
}

const cache = new Map<string, Body>();

function cached(key: string, make: () => Omit<Body, 'gzipped'>): Body {
  const hit = cache.get(key);
  if (hit) return hit;
  const made = make();
  cache.set(key, made);
  return made;
}

function documentBody(): Body {
  return cached('openapi.json', () => ({
    bytes: Buffer.from(JSON.stringify(buildOpenApiDocument({ serverUrl: SERVER_URL })), 'utf8'),
    contentType: 'application/json',
  }));
}

function assetBody(name: string): Body | undefined {
  if (name === INIT_SCRIPT_NAME) {
    return cached(name, () => ({
      bytes: Buffer.from(DOCS_INIT_SCRIPT, 'utf8'),
      contentType: 'text/javascript; charset=utf-8',
    }));
  }
  const asset = DOCS_ASSETS.find((candidate) => candidate.fileName === name);
  if (!asset) return undefined;
  return cached(name, () => ({ bytes: readDocsAsset(asset), contentType: asset.contentType }));
}

function acceptsGzip(event: APIGatewayProxyEventV2): boolean {
  const header = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === 'accept-encoding');
  return /\bgzip\b/i.test(header?.[1] ?? '');
}

/** A body, gzipped when the client takes it and it is worth it (the viewer's script is 1.7 MB). */
function answer(event: APIGatewayProxyEventV2, body: Body, headers: Record<string, string>): LambdaResult {
  const compressible = !body.contentType.startsWith('image/') && body.bytes.length > 1024;
  if (compressible && acceptsGzip(event)) {
    body.gzipped ??= gzipSync(body.bytes);
    return {
      statusCode: 200,
      headers: {
        ...headers,
        'content-type': body.contentType,
        'content-encoding': 'gzip',
        vary: 'accept-encoding',
      },
      body: body.gzipped.toString('base64'),
      isBase64Encoded: true,
    };
  }
  const text = body.contentType.startsWith('image/') ? undefined : body.bytes.toString('utf8');
  return {
    statusCode: 200,
    headers: {
      ...headers,
      'content-type': body.contentType,
      ...(compressible ? { vary: 'accept-encoding' } : {}),
    },
    body: text ?? body.bytes.toString('base64'),
    isBase64Encoded: text === undefined,
  };
}

/** How many slashes end the path: `/docs/` is answered with a redirect to `/docs`, so relative URLs resolve. */
function trailingSlashes(rawPath: string): number {
  let count = 0;
  while (count < rawPath.length - 1 && rawPath[rawPath.length - 1 - count] === '/') count++;
  return count;
}

function route(event: APIGatewayProxyEventV2, headers: Record<string, string>): LambdaResult {
  checkBodySize(event);
  const rawPath = event.rawPath ?? '';
  const slashes = trailingSlashes(rawPath);
  const trimmed = rawPath.slice(0, rawPath.length - slashes);
  if (trimmed.endsWith('/openapi.json')) {
    return answer(event, documentBody(), { ...headers, 'cache-control': 'no-cache' });
  }
  if (trimmed.endsWith('/docs')) {
    if (slashes > 0) {
      return {
        statusCode: 308,
        headers: { ...headers, location: `${'../'.repeat(slashes)}docs` },
        body: '',
      };
    }
    return answer(
      event,
      cached('docs', () => ({
        bytes: Buffer.from(DOCS_HTML, 'utf8'),
        contentType: 'text/html; charset=utf-8',
      })),
      {
        ...headers,
        'content-security-policy': DOCS_CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-cache',
      },
    );
  }
  const asset = event.pathParameters?.asset ?? trimmed.slice(trimmed.lastIndexOf('/') + 1);
  const body = assetBody(asset);
  if (!body) throw new NotFoundError('Not found');
  return answer(event, body, {
    ...headers,
    'x-content-type-options': 'nosniff',
    'cache-control': 'public, max-age=3600',
  });
}

export const handler = plainHandler((event, headers) => route(event, headers));

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as apiDocs } from '../../functions/api/api-docs.ts';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { resetConfig } from '../../functions/core/config.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import { buildOpenApiDocument, type OpenApiDocument } from '../../functions/core/openapi/document.ts';
import { TASK_ERROR_CODES } from '../../functions/core/openapi/response-schemas.ts';
import {
  ALL_OPERATIONS,
  providersOf,
  servedOperations,
} from '../../functions/core/operations/request-catalogue.ts';
import { validateGenerationRequest } from '../../functions/core/operations/request-validation.ts';
import { REPO_ROOT } from '../../infra/constructs/bundling.ts';

/**
 * The OpenAPI document (docs/api.md, OpenAPI and /docs) against a maintained OpenAPI validator,
 * the route table, the customer's guide's examples, and the handler's own validation: every
 * example the handler accepts, the document accepts, and bodies the handler refuses for a field
 * the document can state, the document refuses too.
 */

const SUPABASE = 'https://project.supabase.co';
const STORAGE = `${SUPABASE}/storage/v1/object/public/bucket`;

interface Example {
  section: string;
  method: string;
  path: string;
  body?: Record<string, unknown>;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  status?: number;
}

const examples = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/examples/guide-requests.json'), 'utf8')) as {
  requests: Example[];
  responses: Example[];
};

/** The guide's placeholder URLs as storage URLs of the configured project (docs/api.md, Generation requests). */
function withProjectUrls<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value)
      .replaceAll('https://[project].supabase.co/storage/v1/object/public/bucket', STORAGE)
      .replaceAll('"https://..."', `"${STORAGE}/placeholder.png"`),
  ) as T;
}

type Ajv = InstanceType<typeof Ajv2020Module.default>;
let document: OpenApiDocument;
let ajv: Ajv;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
  document = buildOpenApiDocument();
  const Ajv2020 = Ajv2020Module.default;
  // Not strict: OpenAPI's own keywords (`discriminator`) sit beside JSON Schema's.
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openapi', components: { schemas: document.components.schemas } });
});

/** The schema of a `$ref` into the document, or the schema itself. */
function resolve(schema: unknown): Record<string, unknown> {
  const value = schema as Record<string, unknown>;
  const ref = value.$ref;
  if (typeof ref !== 'string') return value;
  const name = ref.replace('#/components/schemas/', '');
  const target = document.components.schemas[name];
  if (!target) throw new Error(`no schema ${ref}`);
  return target;
}

function requestSchemaRef(method: string, path: string): string {
  const operation = document.paths[path]?.[method.toLowerCase()] as
    | { requestBody: { content: { 'application/json': { schema: { $ref: string } } } } }
    | undefined;
  const ref = operation?.requestBody.content['application/json'].schema.$ref;
  if (!ref) throw new Error(`${method} ${path} has no JSON request body in the document`);
  return ref;
}

function documentAccepts(method: string, path: string, body: unknown): { valid: boolean; errors: unknown } {
  const validate = ajv.compile({ $ref: `openapi${requestSchemaRef(method, path)}` });
  const valid = validate(body) as boolean;
  return { valid, errors: validate.errors };
}

function handlerRefuses(operation: string, body: unknown): boolean {
  try {
    validateGenerationRequest(operation, body);
    return false;
  } catch (error) {
    if (error instanceof ValidationError) return true;
    throw error;
  }
}

describe('the document', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has schemas that are valid JSON Schema 2020-12 (which the OpenAPI validator does not look into)', () => {
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      expect(ajv.validateSchema(schema), `${name}: ${JSON.stringify(ajv.errors)}`).toBe(true);
    }
    const broken = { type: 'object', properties: { detail: { type: 'strnig' } } };
    expect(ajv.validateSchema(broken)).toBe(false);
  });

  it('is built the same way every time (pure), with the server URL it is given', () => {
    expect(JSON.stringify(buildOpenApiDocument())).toBe(JSON.stringify(document));
    expect(buildOpenApiDocument({ serverUrl: 'https://api.example.com' }).servers).toEqual([
      { url: 'https://api.example.com', description: 'This API' },
    ]);
    expect(document.servers[0]?.url).toBe('/');
  });

  it('lists every route of functions/api/routes.ts (generation routes once per operation)', () => {
    for (const route of API_ROUTES) {
      const method = route.method.toLowerCase();
      if (route.path.endsWith('/{operation}')) {
        for (const operation of servedOperations()) {
          const path = route.path.replace('{operation}', operation);
          expect(document.paths[path]?.[method], `${route.method} ${path}`).toBeDefined();
        }
      } else {
        expect(document.paths[route.path]?.[method], `${route.method} ${route.path}`).toBeDefined();
      }
    }
    for (const path of ['/openapi.json', '/docs', '/health', '/auth/health', '/auth/register']) {
      expect(document.paths[path]?.get ?? document.paths[path]?.post, path).toBeDefined();
    }
  });

  it('has one body schema per operation and provider, joined on `provider`', () => {
    for (const operation of ALL_OPERATIONS) {
      const union = resolve({ $ref: requestSchemaRef('POST', `/generation/${operation}`) });
      const variants = (union.oneOf as { $ref: string }[]).map((variant) => resolve(variant));
      const providers = variants.map(
        (variant) =>
          ((variant.properties as Record<string, { const?: string }>).provider?.const ?? 'bff') as string,
      );
      expect(providers.sort(), operation).toEqual(providersOf(operation).sort());
      expect(requestSchemaRef('POST', `/generate/${operation}`)).toBe(
        requestSchemaRef('POST', `/generation/${operation}`),
      );
    }
    const textToImage = resolve({ $ref: '#/components/schemas/TextToImageRequest' });
    expect(textToImage.discriminator).toEqual({
      propertyName: 'provider',
      mapping: {
        openai: '#/components/schemas/TextToImageOpenaiRequest',
        stability: '#/components/schemas/TextToImageStabilityRequest',
        recraft: '#/components/schemas/TextToImageRecraftRequest',
      },
    });
  });

  it('states the key, the error headers, Idempotency-Key and the answer shapes', () => {
    expect(document.components.securitySchemes.ApiKey).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    });
    const submit = document.paths['/generation/text-to-image']?.post as Record<string, unknown>;
    expect(submit.security).toEqual([{ ApiKey: [] }]);
    expect(submit.parameters).toEqual([{ $ref: '#/components/parameters/IdempotencyKey' }]);
    expect(Object.keys(submit.responses as object).sort()).toEqual(
      ['200', '202', '400', '401', '409', '413', '429', '500', '503'].sort(),
    );
    const responses = document.components.responses as Record<string, { headers: Record<string, unknown> }>;
    expect(responses.Unauthorized?.headers['WWW-Authenticate']).toBeDefined();
    expect(responses.TooManyRequests?.headers['Retry-After']).toBeDefined();
    expect(responses.ServiceUnavailable?.headers['Retry-After']).toBeDefined();
    const status = document.components.schemas.TaskStatus as {
      properties: Record<string, { enum?: string[] }>;
    };
    expect(status.properties.error_code?.enum).toEqual([...TASK_ERROR_CODES]);
    expect(document.paths['/health']?.get).toMatchObject({ security: [] });
  });
});

describe("the customer's guide's request examples", () => {
  const generation = examples.requests.filter((example) => example.path.startsWith('/generation/'));

  it('covers every served operation', () => {
    const operations = new Set(generation.map((example) => example.path.replace('/generation/', '')));
    expect([...operations].sort()).toEqual(
      servedOperations()
        .filter((operation) => operation !== 'image-inpaint')
        .sort(),
    );
  });

  it.each(generation.map((example) => [example.section, example] as const))(
    '%s: the document and the handler both accept it',
    (_section, example) => {
      const body = withProjectUrls(example.body);
      const operation = example.path.replace('/generation/', '');
      expect(documentAccepts('POST', example.path, body)).toEqual({ valid: true, errors: null });
      expect(documentAccepts('POST', example.path.replace('/generation/', '/generate/'), body).valid).toBe(
        true,
      );
      expect(() => validateGenerationRequest(operation, body)).not.toThrow();
    },
  );

  it('the registration examples match the documented body', () => {
    const registrations = examples.requests.filter((example) => example.path === '/auth/register');
    expect(registrations).toHaveLength(2);
    for (const example of registrations) {
      expect(documentAccepts('POST', '/auth/register', example.body)).toEqual({ valid: true, errors: null });
    }
  });

  it('the status request uses a documented query value', () => {
    const [example] = examples.requests.filter((request) => request.method === 'GET');
    expect(example?.path).toBe('/tasks/{jobId}/status');
    const service = document.components.parameters.Service as { schema: { enum: string[] } };
    expect(service.schema.enum).toContain(example?.query?.service);
  });
});

describe("the customer's guide's response examples", () => {
  /** Each field the guide shows is in the documented answer, with a value its schema takes. */
  it.each(examples.responses.map((example) => [`${example.section} (${example.status})`, example] as const))(
    '%s',
    (_name, example) => {
      const operation = document.paths[example.path]?.[example.method.toLowerCase()] as {
        responses: Record<string, { content: { 'application/json': { schema: unknown } } }>;
      };
      const response = operation.responses[String(example.status)];
      expect(response, `${example.method} ${example.path} ${example.status}`).toBeDefined();
      const schema = resolve(response?.content['application/json'].schema);
      const properties = schema.properties as Record<string, unknown>;
      for (const [field, value] of Object.entries(example.body ?? {})) {
        expect(properties[field], field).toBeDefined();
        const validate = ajv.compile(properties[field] as object);
        expect(validate(value), `${field}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    },
  );
});

describe('bodies the handler refuses, the document refuses too', () => {
  const image = `${STORAGE}/input.png`;
  const cases: [string, string, Record<string, unknown>][] = [
    [
      'a provider the operation does not have',
      'text-to-image',
      { task_id: 't', provider: 'flux', prompt: 'a' },
    ],
    ['a provider that is not a string', 'text-to-image', { task_id: 't', provider: ['openai'], prompt: 'a' }],
    [
      'no provider where one is required',
      'image-to-image',
      { task_id: 't', prompt: 'a', input_image_asset_url: image },
    ],
    ['n above the limit', 'text-to-image', { task_id: 't', provider: 'openai', prompt: 'a', n: 5 }],
    ['n not an integer', 'text-to-image', { task_id: 't', provider: 'openai', prompt: 'a', n: 1.5 }],
    [
      'an unknown enum value',
      'text-to-image',
      { task_id: 't', provider: 'openai', prompt: 'a', style: 'loud' },
    ],
    ['no task_id', 'text-to-image', { provider: 'stability', prompt: 'a' }],
    ['a task_id with a space', 'text-to-image', { task_id: 'a b', provider: 'stability', prompt: 'a' }],
    ['a prompt too long', 'text-to-image', { task_id: 't', provider: 'recraft', prompt: 'x'.repeat(10_001) }],
    ['a seed out of range', 'text-to-image', { task_id: 't', provider: 'stability', prompt: 'a', seed: -1 }],
    [
      'a fidelity out of range',
      'image-to-image',
      { task_id: 't', provider: 'stability', prompt: 'a', input_image_asset_url: image, fidelity: 1.5 },
    ],
    [
      'five views',
      'image-to-model',
      { task_id: 't', provider: 'tripo', input_image_asset_urls: [image, image, image, image, image] },
    ],
    [
      'max_size_mb above 20',
      'downscale',
      { task_id: 't', input_image_asset_url: image, max_size_mb: 25, aspect_ratio_mode: 'original' },
    ],
    ['no aspect_ratio_mode', 'downscale', { task_id: 't', input_image_asset_url: image, max_size_mb: 1 }],
    [
      'a grow_mask above 20',
      'search-and-recolor',
      { task_id: 't', input_image_asset_url: image, prompt: 'a', select_prompt: 'b', grow_mask: 21 },
    ],
  ];

  it.each(cases)('%s (%s)', (_name, operation, body) => {
    expect(handlerRefuses(operation, body)).toBe(true);
    expect(documentAccepts('POST', `/generation/${operation}`, body).valid).toBe(false);
  });

  it('a body without the provider its operation defaults to, and downscale with any provider, pass both', () => {
    const sketch = { task_id: 't', prompt: 'a chair', input_sketch_asset_url: image };
    expect(handlerRefuses('sketch-to-image', sketch)).toBe(false);
    expect(documentAccepts('POST', '/generation/sketch-to-image', sketch).valid).toBe(true);
    const downscale = {
      task_id: 't',
      provider: 'anything',
      input_image_asset_url: image,
      max_size_mb: 1,
      aspect_ratio_mode: 'square',
    };
    expect(handlerRefuses('downscale', downscale)).toBe(false);
    expect(documentAccepts('POST', '/generation/downscale', downscale).valid).toBe(true);
  });
});

describe('the api-docs handler under a path prefix (a custom domain mapping)', () => {
  const event = (rawPath: string, headers: Record<string, string> = {}) =>
    ({
      rawPath,
      headers,
      routeKey: 'GET /docs',
      requestContext: { requestId: 'request-1', http: { method: 'GET', path: rawPath } },
    }) as unknown as APIGatewayProxyEventV2;
  const context = { functionName: 'api-docs', awsRequestId: 'aws-1' } as Context;

  it('answers the document, the page and its files, all addressed relative to the page', async () => {
    const documentAnswer = await apiDocs(event('/v1/openapi.json'), context);
    expect(documentAnswer.statusCode).toBe(200);
    const served = JSON.parse(documentAnswer.body ?? '') as OpenApiDocument;
    expect(served.servers).toEqual([{ url: '.', description: 'This API' }]);
    expect(served.paths).toEqual(JSON.parse(JSON.stringify(document.paths)));
    const page = await apiDocs(event('/v1/docs'), context);
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-security-policy']).toContain("default-src 'self'");
    const references = [...(page.body ?? '').matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(reference).toMatch(/^docs\/[\w.-]+$/);
    for (const reference of references) {
      const asset = await apiDocs(event(`/v1/${reference}`), context);
      expect(asset.statusCode, reference).toBe(200);
    }
    const redirect = await apiDocs(event('/v1/docs/'), context);
    expect(redirect.statusCode).toBe(308);
    expect(new URL(String(redirect.headers?.location), 'https://api.example.com/v1/docs/').pathname).toBe(
      '/v1/docs',
    );
  });
});

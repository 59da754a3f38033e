import * as z from 'zod';
import { API_ROUTES } from '../../api/routes.ts';
import {
  ALL_OPERATIONS,
  type OperationName,
  operationRequest,
  providerRule,
  providersOf,
} from '../operations/request-catalogue.ts';
import { DOCS_ASSETS, INIT_SCRIPT_NAME } from './docs-page.ts';
import {
  AcceptedSchema,
  AuthHealthSchema,
  ErrorSchema,
  FieldIssueSchema,
  HealthSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
  TaskStatusSchema,
  ValidationErrorSchema,
} from './response-schemas.ts';

/**
 * The API as an OpenAPI 3.1 document (docs/api.md, OpenAPI and /docs), built from the zod
 * schemas the handlers validate with: each operation's body is the union of its providers'
 * request schemas (functions/core/operations/request-catalogue.ts), converted with
 * `z.toJSONSchema` to JSON Schema 2020-12, the dialect of OpenAPI 3.1. Nothing here restates a
 * request field; what JSON Schema cannot say (cross-field rules, the storage URL prefix, which
 * depends on the stage) is checked by the handler only, so the document is never stricter than it.
 */

export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.1';
  info: { title: string; version: string; description: string };
  servers: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, unknown>;
    parameters: Record<string, unknown>;
    headers: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
}

export interface OpenApiOptions {
  /** The base URL the operations are called on (default `/`: the host serving the document). */
  serverUrl?: string;
}

/** What each operation does (docs/api.md, Operations and providers). */
const OPERATION_SUMMARIES: Record<OperationName, string> = {
  'text-to-image': 'Images from a prompt',
  'image-to-image': 'Images from an input image and a prompt',
  'sketch-to-image': 'An image from a sketch and a prompt',
  'image-inpaint': 'Repaint the masked part of an image',
  'remove-background': "Remove an image's background",
  'search-and-recolor': 'Recolour the object a prompt selects',
  upscale: 'Upscale an image',
  downscale: 'Reduce an image to a file size, inside the service',
  'text-to-model': 'A GLB model from a prompt',
  'image-to-model': 'A GLB model from 1-4 images',
  'refine-model': 'Re-texture a GLB model',
};

const INPUT_URL_DESCRIPTION =
  'A Supabase Storage object URL of the configured project: `<SUPABASE_URL>/storage/v1/object/public/…` or `…/object/sign/…` (docs/api.md, Generation requests). Fetched when the task runs.';

/** `text-to-image` → `TextToImage`: the names of the document's schemas (and the client's types). */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
}

function camel(name: string): string {
  const value = pascal(name);
  return value.charAt(0).toLowerCase() + value.slice(1);
}

/** A zod schema as a JSON Schema 2020-12 object without its `$schema` key. */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // Refinements are checked by the handler; nothing else in these schemas is unrepresentable.
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

interface OperationBody {
  /** components.schemas name of the operation's body. */
  name: string;
  schemas: Record<string, JsonSchema>;
}

/** One operation's request body: its providers' schemas, and their union on `provider`. */
function operationBody(operation: OperationName): OperationBody {
  const providers = providersOf(operation);
  const rule = providerRule(operation);
  const fallback = rule.providerless ?? rule.defaultProvider;
  const providerless = rule.providerless !== undefined;
  const schemas: Record<string, JsonSchema> = {};
  const variants: { provider: string; name: string }[] = [];
  for (const provider of providers) {
    const entry = operationRequest(operation, provider);
    const schema = jsonSchemaOf(entry.schema, 'input');
    const properties = { ...(schema.properties as Record<string, JsonSchema>) };
    let required = [...((schema.required as string[] | undefined) ?? [])];
    for (const field of entry.inputFields) {
      if (properties[field]) properties[field] = { ...properties[field], description: INPUT_URL_DESCRIPTION };
    }
    if (properties.task_id) {
      properties.task_id = {
        ...properties.task_id,
        description:
          "The client's workspace item id: 1-128 characters of `A-Z a-z 0-9 . _ : -`; several requests may share it.",
        examples: ['task-workspace-abc123'],
      };
    }
    if (providerless) {
      properties.provider = {
        description: 'Ignored: this operation runs inside the service (its status says `bff`).',
      };
      required = required.filter((field) => field !== 'provider');
    } else if (provider === fallback) {
      properties.provider = {
        ...properties.provider,
        description: `May be omitted: defaults to \`${provider}\`.`,
      };
      required = required.filter((field) => field !== 'provider');
    }
    const name = `${pascal(operation)}${pascal(provider)}Request`;
    schemas[name] = {
      ...schema,
      title: providerless ? `${operation}` : `${operation} with ${provider}`,
      description: providerless
        ? 'Unknown fields are ignored.'
        : `\`${operation}\` served by \`${provider}\`. Unknown fields are ignored.`,
      properties,
      required,
    };
    variants.push({ provider, name });
  }
  const unionName = `${pascal(operation)}Request`;
  const union: JsonSchema = {
    title: `${operation} request`,
    description: `One body per provider, selected by \`provider\` (${providers.join(', ')}).`,
    oneOf: variants.map((variant) => ({ $ref: `#/components/schemas/${variant.name}` })),
  };
  // A discriminator needs the property in every body; with a default provider it may be absent.
  if (fallback === undefined && !providerless) {
    union.discriminator = {
      propertyName: 'provider',
      mapping: Object.fromEntries(
        variants.map((variant) => [variant.provider, `#/components/schemas/${variant.name}`]),
      ),
    };
  }
  schemas[unionName] = union;
  return { name: unionName, schemas };
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const jsonContent = (schema: unknown) => ({ 'application/json': { schema } });
const REQUEST_ID_HEADER = { 'x-request-id': ref('headers', 'XRequestId') };

function errorResponse(description: string, schemaName: string, headers: Record<string, unknown> = {}) {
  return {
    description,
    headers: { ...REQUEST_ID_HEADER, ...headers },
    content: jsonContent(ref('schemas', schemaName)),
  };
}

function components(): OpenApiDocument['components'] {
  return {
    schemas: {
      Error: jsonSchemaOf(ErrorSchema, 'output'),
      FieldIssue: jsonSchemaOf(FieldIssueSchema, 'output'),
      ValidationError: jsonSchemaOf(ValidationErrorSchema, 'output'),
      Accepted: jsonSchemaOf(AcceptedSchema, 'output'),
      TaskStatus: jsonSchemaOf(TaskStatusSchema, 'output'),
      RegisterRequest: jsonSchemaOf(RegisterRequestSchema, 'input'),
      RegisterResponse: jsonSchemaOf(RegisterResponseSchema, 'output'),
      Health: jsonSchemaOf(HealthSchema, 'output'),
      AuthHealth: jsonSchemaOf(AuthHealthSchema, 'output'),
    },
    responses: {
      BadRequest: errorResponse(
        'The body is not a JSON object, or a field is missing or invalid (`errors` names each), or the provider is missing or not served for the operation (`Unsupported provider …`).',
        'ValidationError',
      ),
      Unauthorized: errorResponse('`Missing API key` or `Invalid or inactive API key`.', 'Error', {
        'WWW-Authenticate': ref('headers', 'WWWAuthenticate'),
      }),
      NotFound: errorResponse('Not found.', 'Error'),
      Conflict: errorResponse(
        'The `Idempotency-Key` was used with a different body or operation, or its first request is still being recorded (then with `Retry-After`).',
        'Error',
        { 'Retry-After': ref('headers', 'RetryAfter') },
      ),
      PayloadTooLarge: errorResponse(
        'The body is over 1 MiB: `Request body must not exceed 1 MiB`.',
        'Error',
      ),
      TooManyRequests: errorResponse("`Rate limit exceeded`: the tenant's per-minute limit.", 'Error', {
        'Retry-After': ref('headers', 'RetryAfter'),
      }),
      ServiceUnavailable: errorResponse(
        'A store the request needs is unreachable, or the workflow could not be started (`Retry-After: 5`); locally also while the stack starts (`Retry-After: 1`).',
        'Error',
        { 'Retry-After': ref('headers', 'RetryAfter') },
      ),
      InternalError: errorResponse('`Internal server error` (logged with the request id).', 'Error'),
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          "1-255 visible ASCII characters, remembered per tenant for 24 hours. A repeat with the same key, operation and body answers 200 with the first job's body; another body is a 409 (docs/api.md, Idempotency-Key).",
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
      },
      JobId: {
        name: 'jobId',
        in: 'path',
        required: true,
        description: 'The `celery_task_id` of the submit answer.',
        schema: { type: 'string' },
      },
      Service: {
        name: 'service',
        in: 'query',
        required: false,
        description: 'Accepted for older clients; changes nothing.',
        schema: { type: 'string', enum: ['openai', 'tripoai'] },
      },
    },
    headers: {
      XRequestId: {
        description:
          "The request id (API Gateway's; locally a fresh UUID), in every log line of the request.",
        schema: { type: 'string' },
      },
      RetryAfter: {
        description: 'Seconds to wait before retrying.',
        schema: { type: 'integer', minimum: 0 },
      },
      WWWAuthenticate: {
        description: 'The authentication scheme: `ApiKey`.',
        schema: { type: 'string', const: 'ApiKey' },
      },
    },
    securitySchemes: {
      ApiKey: {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description:
          'A key from `POST /auth/register`. Under `npm start` (and on stages marked non-production) the test key `makeit3d_test_sk_dev_001` works.',
      },
    },
  };
}

const SECURED = [{ ApiKey: [] }];

function generationOperation(operation: OperationName, bodyName: string, alias: boolean) {
  const providers = providersOf(operation);
  return {
    post: {
      operationId: alias ? `${camel(operation)}ViaGenerate` : camel(operation),
      tags: [alias ? 'Generation (earlier path)' : 'Generation'],
      summary: OPERATION_SUMMARIES[operation],
      description: `${alias ? `The same as \`POST /generation/${operation}\`: the path the earlier deployment used. ` : ''}Providers: ${providers.join(', ')}. Validates, records and starts the task; poll the status URL of the answer (docs/api.md, Generation requests).`,
      security: SECURED,
      parameters: [ref('parameters', 'IdempotencyKey')],
      requestBody: { required: true, content: jsonContent(ref('schemas', bodyName)) },
      responses: {
        '202': {
          description: 'Accepted: the job id to poll.',
          headers: REQUEST_ID_HEADER,
          content: jsonContent(ref('schemas', 'Accepted')),
        },
        '200': {
          description:
            "A repeat with the same `Idempotency-Key` and body: the first job's answer; no new job.",
          headers: REQUEST_ID_HEADER,
          content: jsonContent(ref('schemas', 'Accepted')),
        },
        '400': ref('responses', 'BadRequest'),
        '401': ref('responses', 'Unauthorized'),
        '409': ref('responses', 'Conflict'),
        '413': ref('responses', 'PayloadTooLarge'),
        '429': ref('responses', 'TooManyRequests'),
        '500': ref('responses', 'InternalError'),
        '503': ref('responses', 'ServiceUnavailable'),
      },
    },
  };
}

function plainGet(
  operationId: string,
  tag: string,
  summary: string,
  description: string,
  content: Record<string, unknown>,
) {
  return {
    get: {
      operationId,
      tags: [tag],
      summary,
      description,
      security: [],
      responses: {
        '200': { description: summary, headers: REQUEST_ID_HEADER, content },
        '500': ref('responses', 'InternalError'),
      },
    },
  };
}

/**
 * The OpenAPI 3.1 document of every route in functions/api/routes.ts. Pure: the same document
 * for the same options, built from the request schemas the submit handler validates with.
 */
export function buildOpenApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const base = components();
  const paths: OpenApiDocument['paths'] = {};
  const operations = ALL_OPERATIONS.filter((operation) => providersOf(operation).length > 0);
  const bodies = new Map<OperationName, string>();
  for (const operation of operations) {
    const body = operationBody(operation);
    Object.assign(base.schemas, body.schemas);
    bodies.set(operation, body.name);
    paths[`/generation/${operation}`] = generationOperation(operation, body.name, false);
  }
  for (const operation of operations) {
    paths[`/generate/${operation}`] = generationOperation(operation, bodies.get(operation) ?? '', true);
  }
  paths['/tasks/{jobId}/status'] = {
    get: {
      operationId: 'getTaskStatus',
      tags: ['Tasks'],
      summary: 'Read a task',
      description:
        "One read of the task: never calls a provider. Another tenant's job id is `404 Task not found`, like one that does not exist (docs/api.md, Task status).",
      security: SECURED,
      parameters: [ref('parameters', 'JobId'), ref('parameters', 'Service')],
      responses: {
        '200': {
          description: 'The task.',
          headers: REQUEST_ID_HEADER,
          content: jsonContent(ref('schemas', 'TaskStatus')),
        },
        '400': errorResponse('`service must be one of: openai, tripoai`.', 'ValidationError'),
        '401': ref('responses', 'Unauthorized'),
        '404': errorResponse('`Task not found`.', 'Error'),
        '429': ref('responses', 'TooManyRequests'),
        '500': ref('responses', 'InternalError'),
        '503': ref('responses', 'ServiceUnavailable'),
      },
    },
  };
  paths['/auth/register'] = {
    post: {
      operationId: 'registerApiKey',
      tags: ['Authentication'],
      summary: 'Issue an API key',
      description:
        "Needs the stage's registration secret; failed attempts are limited per client address (docs/api.md, Authentication and tenants).",
      security: [],
      requestBody: { required: true, content: jsonContent(ref('schemas', 'RegisterRequest')) },
      responses: {
        '201': {
          description: 'The key (shown only here).',
          headers: REQUEST_ID_HEADER,
          content: jsonContent(ref('schemas', 'RegisterResponse')),
        },
        '400': ref('responses', 'BadRequest'),
        '401': errorResponse(
          '`Invalid verification secret. Access denied.` (no `WWW-Authenticate`).',
          'Error',
        ),
        '413': ref('responses', 'PayloadTooLarge'),
        '429': errorResponse(
          '`Too many failed registration attempts from this address; retry after <n> seconds`.',
          'Error',
          { 'Retry-After': ref('headers', 'RetryAfter') },
        ),
        '500': ref('responses', 'InternalError'),
        '503': ref('responses', 'ServiceUnavailable'),
      },
    },
  };
  paths['/health'] = plainGet(
    'health',
    'Health',
    'The service answers',
    'No dependency is called.',
    jsonContent(ref('schemas', 'Health')),
  );
  paths['/auth/health'] = plainGet(
    'authHealth',
    'Health',
    'The auth service answers',
    'No dependency is called.',
    jsonContent(ref('schemas', 'AuthHealth')),
  );
  paths['/openapi.json'] = plainGet(
    'openApiDocument',
    'Documentation',
    'This document',
    'The OpenAPI 3.1 document of the API; no API key needed.',
    jsonContent({ type: 'object' }),
  );
  paths['/docs'] = plainGet(
    'docsPage',
    'Documentation',
    'The API reference page',
    'An HTML page rendering this document (Swagger UI, served by the API itself).',
    { 'text/html': { schema: { type: 'string' } } },
  );
  paths['/docs/{asset}'] = {
    get: {
      operationId: 'docsAsset',
      tags: ['Documentation'],
      summary: 'A file of the reference page',
      security: [],
      parameters: [
        {
          name: 'asset',
          in: 'path',
          required: true,
          description: "A file name of the page's scripts and styles.",
          schema: { type: 'string', enum: [...DOCS_ASSETS.map((asset) => asset.fileName), INIT_SCRIPT_NAME] },
        },
      ],
      responses: {
        '200': { description: 'The file.', headers: REQUEST_ID_HEADER },
        '404': errorResponse('Not found.', 'Error'),
      },
    },
  };
  const webhookAnswer = {
    description:
      'Taken, or nothing to do: `status` is `resumed` (the waiting execution was woken), `noted` (it will find the note at its next wait), `not-processing`, `duplicate` (this delivery was taken before) or `ignored` (an event or a job this service does not wait on). The execution then polls the provider; nothing in the body is trusted beyond the id.',
    headers: REQUEST_ID_HEADER,
    content: jsonContent({
      type: 'object',
      required: ['status'],
      properties: {
        status: { type: 'string', enum: ['resumed', 'noted', 'not-processing', 'duplicate', 'ignored'] },
      },
    }),
  };
  const header = (name: string, description: string, required: boolean) => ({
    name,
    in: 'header',
    required,
    description,
    schema: { type: 'string' },
  });
  paths['/webhooks/tripo'] = {
    post: {
      operationId: 'tripoWebhook',
      tags: ['Webhooks'],
      summary: "Tripo's task.completed / task.failed callback",
      description:
        "Registered in Tripo's console as `<ApiUrl>/webhooks/tripo` (docs/api.md, Webhooks). No API key: the signature is checked with `TRIPO_WEBHOOK_SECRET` (HMAC-SHA256 over `<t>.<raw body>`, any `v1` may match, `t` within 300 s of now); deliveries are de-duplicated on `Tripo-Webhook-Delivery`.",
      security: [],
      parameters: [
        header('Tripo-Webhook-Signature', '`t=<unix seconds>,v1=<hex>[,v1=<hex>…]`', true),
        header('Tripo-Webhook-Delivery', 'Unique per delivery; a repeat is answered `duplicate`.', false),
        header('Tripo-Webhook-Event', "The event, as the body's `type`.", false),
      ],
      requestBody: { required: true, content: jsonContent({ type: 'object' }) },
      responses: {
        '200': webhookAnswer,
        '401': errorResponse('The signature is missing, stale or does not match.', 'Error'),
        '413': errorResponse('Body over 1 MiB.', 'Error'),
      },
    },
  };
  paths['/webhooks/bfl/{token}'] = {
    post: {
      operationId: 'bflWebhook',
      tags: ['Webhooks'],
      summary: "Black Forest Labs' job-finished callback",
      description:
        "The `webhook_url` sent with each Flux job when webhooks are on (docs/api.md, Webhooks): the unguessable per-task `token` finds the task; an `X-BFL-Signature: sha256=<hex>` header, when sent, must match the job's `webhook_secret`. The first delivery per task is taken.",
      security: [],
      parameters: [
        {
          name: 'token',
          in: 'path',
          required: true,
          description: 'The per-task token.',
          schema: { type: 'string' },
        },
        header('X-BFL-Signature', '`sha256=<hex>` of the raw body (format not confirmed by BFL).', false),
      ],
      requestBody: { required: true, content: jsonContent({ type: 'object' }) },
      responses: {
        '200': webhookAnswer,
        '401': errorResponse('A signature was sent and does not match.', 'Error'),
        '404': errorResponse('No task has this token.', 'Error'),
        '413': errorResponse('Body over 1 MiB.', 'Error'),
      },
    },
  };
  // A route this builder has no description for (e.g. a provider's callback) is still listed.
  for (const route of API_ROUTES) {
    const method = route.method.toLowerCase();
    if (
      paths[route.path]?.[method] ||
      route.path === '/generation/{operation}' ||
      route.path === '/generate/{operation}'
    )
      continue;
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => ({
      name: match[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    paths[route.path] = {
      ...paths[route.path],
      [method]: {
        operationId: camel(`${method} ${route.path}`),
        tags: ['Other'],
        summary: `${route.method} ${route.path}`,
        description: 'Served by this API for other callers than API clients (docs/api.md).',
        security: [],
        ...(parameters.length > 0 ? { parameters } : {}),
        responses: { default: errorResponse('The answer; errors as `{"detail": …}`.', 'Error') },
      },
    };
  }
  const usedTags = new Set(
    Object.values(paths).flatMap((item) =>
      Object.values(item as Record<string, { tags?: string[] }>).flatMap((operation) => operation.tags ?? []),
    ),
  );
  return {
    openapi: '3.1.1',
    info: {
      title: 'MakeIt3D BFF API',
      version: '2.0',
      description: [
        'Asynchronous 2D and 3D generation: submit a task (`POST /generation/{operation}`), then poll `GET /tasks/{jobId}/status`.',
        'Every answer is JSON; every error is `{"detail": …}`, validation errors add `errors`. An unknown path is `404 {"detail": "Not found"}`, a known path with another method `405` with an `Allow` header, an unknown operation `404 Unknown operation …`.',
        "Rules JSON Schema cannot state (input URLs on the project's storage, fields that depend on the model, request body limits) are checked by the service and answered as 400s naming the field.",
      ].join('\n\n'),
    },
    servers: [{ url: options.serverUrl ?? '/', description: 'This API' }],
    // Only the tags some route carries ('Other' is for routes described nowhere above).
    tags: [
      { name: 'Generation', description: 'Submit a task (docs/api.md, Generation requests).' },
      { name: 'Generation (earlier path)', description: 'The same operations on `/generate/{operation}`.' },
      { name: 'Tasks', description: "Read a task's status and results." },
      { name: 'Authentication', description: 'API keys.' },
      { name: 'Health', description: 'Liveness.' },
      { name: 'Documentation', description: 'This document and its page.' },
      { name: 'Webhooks', description: "Providers' callbacks (docs/api.md, Webhooks); not for API clients." },
      { name: 'Other', description: 'Routes for other callers than API clients.' },
    ].filter((tag) => usedTags.has(tag.name)),
    paths,
    components: base,
  };
}

import fc from 'fast-check';
import { TENANT_TYPES } from '../../functions/core/auth/api-keys.ts';
import { ALL_OPERATIONS, providersOf } from '../../functions/core/operations/catalogue.ts';

/**
 * Request generators for the no-5xx property tests and `npm run bench:fuzz`: for each route
 * family, mostly invalid requests (so few start real executions) built around the shapes that
 * once broke the API: `provider` as an object, bodies nested thousands deep with an
 * `Idempotency-Key`, numbers DynamoDB cannot store, huge metadata, bytes that are not UTF-8, odd
 * headers and paths, and raw HTTP the parser refuses.
 */

export const ROUTE_FAMILIES = [
  'generation',
  'generate',
  'status',
  'register',
  'health',
  'not-found',
  'protocol',
] as const;
export type RouteFamily = (typeof ROUTE_FAMILIES)[number];

export interface FuzzRequest {
  family: RouteFamily;
  method: string;
  /** The request-target exactly as sent: path and query. */
  target: string;
  headers: [string, string][];
  body?: Uint8Array;
  /** Bytes sent as they are instead of a request built from the fields (protocol family). */
  raw?: Uint8Array;
}

export interface FuzzContext {
  apiKey: string;
  registrationSecret: string;
  /** An image in the stack's storage, so plausible generation bodies pass validation. */
  imageUrl: string;
  /** Ids of tasks that exist, so the status route also reads real tasks. */
  jobIds: readonly string[];
}

const encoder = new TextEncoder();
const utf8 = (text: string): Uint8Array => encoder.encode(text);

// ---- JSON values ----

/** Magnitudes below DynamoDB's smallest (1e-130), down to the smallest double. */
export const tinyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(5e-324, -5e-324, 1e-131, -1e-131, 9.99e-131, 1e-200, 2.2250738585072014e-308),
  fc.double({ min: Number.MIN_VALUE, max: 9.9e-131, noNaN: true }),
  fc.double({ min: -9.9e-131, max: -Number.MIN_VALUE, noNaN: true }),
);

/** Number literals written into the JSON text as they are (`1e400` parses as Infinity). */
const rawNumberLiteral = fc.constantFrom(
  '1e126',
  '-1e126',
  '9.999999999999998e125',
  '9.999999999999999e125',
  '1.7976931348623157e308',
  '1e400',
  '-1e999',
  '123456789012345678901234567890123456789012',
  '0.000000000000000000000000000000000000000000001',
  '-0',
  '1E-131',
  '4.9e-324',
);

const oddString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\uFEFF', 'é', '\ud800', '../..', '%ff', '__proto__', 'constructor'),
  fc.constant('x'.repeat(40_000)),
);

function fieldValue(context: FuzzContext): fc.Arbitrary<unknown> {
  return fc.oneof(
    oddString,
    fc.integer(),
    fc.double(),
    tinyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(oddString, { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), oddString, { maxKeys: 3 }),
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(
      '1024x1024',
      'auto',
      'png',
      'webp',
      'openai',
      'stability',
      'https://evil.example/x.png',
      context.imageUrl,
      `${context.imageUrl}/../../../secret`,
      [context.imageUrl, null, context.imageUrl],
    ),
  );
}

/** `value` nested `depth` levels deep in arrays or single-key objects. */
function nested(depth: number, asArrays: boolean, leaf = '1'): string {
  const open = asArrays ? '[' : '{"a":';
  const close = asArrays ? ']' : '}';
  return `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;
}

const nestingDepth = fc.oneof(
  fc.constantFrom(31, 32, 33, 40, 2_800, 20_000),
  fc.integer({ min: 24, max: 64 }),
);

/** `{...base, key: <raw JSON text>}` as text (the raw part may be any literal or nesting). */
function withRaw(base: Record<string, unknown>, key: string, rawJson: string): string {
  const marker = '\u0001raw\u0001';
  return JSON.stringify({ ...base, [key]: marker }).replace(JSON.stringify(marker), rawJson);
}

// ---- Bodies ----

interface Payload {
  body?: Uint8Array;
  headers: [string, string][];
}

const text = (body: string, headers: [string, string][] = []): Payload => ({ body: utf8(body), headers });

/** Bodies that are not JSON, not UTF-8, oddly encoded or too large: the same for every route. */
const brokenBody: fc.Arbitrary<Payload> = fc.oneof(
  fc.string().map((value) => text(`{${value}`)),
  fc
    .constantFrom('', ' ', 'null', '[]', '""', '0', 'true', '{"a":1', '{"a":1}}', "{'a':1}", 'NaN')
    .map((v) => text(v)),
  fc.constant<Payload>({ headers: [] }),
  // Invalid UTF-8 around otherwise valid JSON, and a body of it just under the 1 MiB limit.
  fc
    .tuple(
      fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80]),
      fc.constantFrom('{"task_id":"', '{"prompt":"', '{"tenant_identifier":"'),
    )
    .map(([bytes, start]) => ({
      body: Buffer.concat([Buffer.from(start), Buffer.from(bytes), Buffer.from('"}')]),
      headers: [],
    })),
  fc.constant<Payload>({ body: Buffer.alloc(1024 * 1024 - 1, 0xff), headers: [] }),
  // Over the 1 MiB limit, as text and as bytes sent as a binary content type.
  fc.constant<Payload>({ body: Buffer.alloc(1024 * 1024 + 1, 0x20), headers: [] }),
  fc.constant<Payload>({
    body: Buffer.alloc(1024 * 1024 + 1, 0x41),
    headers: [['Content-Type', 'application/octet-stream']],
  }),
  // UTF-16 and a byte order mark.
  fc.constant<Payload>({ body: Buffer.from('{"a":1}', 'utf16le'), headers: [] }),
  fc.constant<Payload>({ body: Buffer.from('\uFEFF{"a":1}', 'utf8'), headers: [] }),
  // Forbidden and duplicated keys.
  fc
    .constantFrom(
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":{"__proto__":null}}',
      '{"provider":"openai","provider":{"toString":1}}',
    )
    .map((value) => text(value)),
  // Nesting, with and without an Idempotency-Key.
  fc
    .tuple(nestingDepth, fc.boolean(), fc.boolean())
    .map(([depth, arrays, keyed]) =>
      text(nested(depth, arrays), keyed ? [['Idempotency-Key', `deep-${depth}`]] : []),
    ),
);

function generationBase(provider: string, context: FuzzContext): Record<string, unknown> {
  return {
    task_id: 'fuzz-task',
    provider,
    prompt: 'a small test object',
    input_image_asset_url: context.imageUrl,
    input_image_asset_urls: [context.imageUrl],
    input_sketch_asset_url: context.imageUrl,
    input_mask_asset_url: context.imageUrl,
    input_model_asset_url: context.imageUrl,
    select_prompt: 'object',
    max_size_mb: 1,
    aspect_ratio_mode: 'original',
  };
}

/** Every numeric field of the generation schemas (and a few that are not fields). */
export const NUMERIC_FIELDS = [
  'n',
  'seed',
  'strength',
  'fidelity',
  'control_strength',
  'grow_mask',
  'guidance_scale',
  'safety_tolerance',
  'max_size_mb',
  'face_limit',
  'foreground_ratio',
  'model_seed',
  'image_seed',
  'texture_seed',
  'target_count',
  'unknown_number',
] as const;

const GENERATION_FIELDS = [
  'task_id',
  'provider',
  'prompt',
  'negative_prompt',
  'size',
  'quality',
  'style',
  'background',
  'model',
  'input_image_asset_url',
  'input_image_asset_urls',
  'input_sketch_asset_url',
  'input_mask_asset_url',
  'input_model_asset_url',
  'draft_model_task_id',
  'output_format',
  'aspect_ratio',
  'style_preset',
  'texture',
  'pbr',
  'aspect_ratio_mode',
  'response_format',
  'select_prompt',
  ...NUMERIC_FIELDS,
];

const OTHER_PROVIDERS = ['openai', 'stability', 'recraft', 'flux', 'tripo', 'bff', 'OpenAI', ''];

/** An operation from the path and a provider it has (or, sometimes, one it has not). */
const operationAndProvider = fc
  .constantFrom(...ALL_OPERATIONS)
  .chain((operation) =>
    fc.tuple(
      fc.constant<string>(operation),
      fc.constantFrom(
        ...(providersOf(operation).length > 0 ? providersOf(operation) : ['openai']),
        ...OTHER_PROVIDERS,
      ),
    ),
  );

function generationBody(context: FuzzContext): fc.Arbitrary<{ operation: string; payload: Payload }> {
  const plausible = operationAndProvider.map(([operation, provider]) => ({
    operation,
    base: generationBase(provider, context),
  }));
  return fc.oneof(
    // A plausible body with one field changed or removed.
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          plausible,
          fc.constantFrom(...GENERATION_FIELDS),
          fc.option(fieldValue(context), { nil: undefined }),
        )
        .map(([{ operation, base }, field, value]) => {
          if (value === undefined) delete base[field];
          else base[field] = value;
          return { operation, payload: text(JSON.stringify(base)) };
        }),
    },
    // Tiny numbers in every numeric field (most are within range and reach the store).
    {
      weight: 1,
      arbitrary: fc
        .tuple(plausible, fc.subarray([...NUMERIC_FIELDS], { minLength: 1, maxLength: 3 }), tinyNumber)
        .map(([{ operation, base }, fields, value]) => {
          for (const field of fields) base[field] = value;
          return { operation, payload: text(JSON.stringify(base)) };
        }),
    },
    // Numbers DynamoDB cannot store, written as literals.
    {
      weight: 2,
      arbitrary: fc
        .tuple(plausible, fc.constantFrom(...NUMERIC_FIELDS), rawNumberLiteral)
        .map(([{ operation, base }, field, literal]) => ({
          operation,
          payload: text(withRaw(base, field, literal)),
        })),
    },
    // `provider` that is not a string.
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          plausible,
          fc.constantFrom<unknown>(
            { toString: 1 },
            { toString: 'openai' },
            {},
            ['openai'],
            [],
            1,
            0,
            true,
            { name: 'openai' },
            '__proto__',
            'constructor',
            'toString',
          ),
        )
        .map(([{ operation, base }, provider]) => {
          base.provider = provider;
          return { operation, payload: text(JSON.stringify(base)) };
        }),
    },
    // Deep nesting beside a plausible body, with an Idempotency-Key.
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          plausible,
          nestingDepth,
          fc.boolean(),
          fc.string({ minLength: 1, maxLength: 12, unit: 'binary-ascii' }),
        )
        .map(([{ operation, base }, depth, arrays, key]) => ({
          operation,
          payload: text(withRaw(base, 'extra', nested(depth, arrays)), [
            ['Idempotency-Key', `deep-${key.replace(/[^\x21-\x7e]/g, 'x')}`],
          ]),
        })),
    },
    // Known field names with random values.
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...ALL_OPERATIONS),
          fc.dictionary(fc.constantFrom(...GENERATION_FIELDS), fieldValue(context), { maxKeys: 8 }),
        )
        .map(([operation, body]) => ({ operation, payload: text(JSON.stringify(body)) })),
    },
    // Anything at all.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...ALL_OPERATIONS), fc.jsonValue({ maxDepth: 4 }))
        .map(([operation, value]) => ({ operation, payload: text(JSON.stringify(value)) })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...ALL_OPERATIONS), brokenBody)
        .map(([operation, payload]) => ({ operation, payload })),
    },
  );
}

function registerBody(context: FuzzContext): fc.Arbitrary<Payload> {
  const valid = fc
    .record({
      tenant_type: fc.constantFrom(...TENANT_TYPES),
      identifier: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
      tenant_name: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    })
    .map(({ tenant_type, identifier, tenant_name }) => ({
      verification_secret: context.registrationSecret,
      tenant_type,
      tenant_identifier: tenant_type === 'shopify' ? `${identifier}.myshopify.com` : `fuzz-${identifier}`,
      ...(tenant_name === undefined ? {} : { tenant_name }),
    }));
  const metadataNumbers = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 6 }),
    fc.oneof(tinyNumber, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
    { minKeys: 1, maxKeys: 4 },
  );
  return fc.oneof(
    // Tiny (and other double) numbers in metadata: accepted, stored.
    {
      weight: 3,
      arbitrary: fc
        .tuple(valid, metadataNumbers)
        .map(([body, metadata]) => text(JSON.stringify({ ...body, metadata }))),
    },
    // Numbers DynamoDB cannot store.
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, rawNumberLiteral)
        .map(([body, literal]) => text(withRaw(body, 'metadata', `{"n":${literal}}`))),
    },
    // Metadata that is deep or large (16 KiB, 400 KB, near the 1 MiB limit).
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          valid,
          fc.oneof(
            nestingDepth.map((depth) => ({ depth })),
            fc.constantFrom(17_000, 420_000, 1_000_000).map((size) => ({ size })),
          ),
        )
        .map(([body, shape]) =>
          'depth' in shape
            ? text(withRaw(body, 'metadata', `{"m":${nested(shape.depth, false)}}`))
            : text(JSON.stringify({ ...body, metadata: { blob: 'x'.repeat(shape.size) } })),
        ),
    },
    // One field changed or removed.
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          valid,
          fc.constantFrom(
            'verification_secret',
            'tenant_type',
            'tenant_identifier',
            'tenant_name',
            'metadata',
            'extra',
          ),
          fc.option(fieldValue(context), { nil: undefined }),
        )
        .map(([body, field, value]) => {
          const record: Record<string, unknown> = { ...body };
          if (value === undefined) delete record[field];
          else record[field] = value;
          return text(JSON.stringify(record));
        }),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => text(JSON.stringify(value))) },
    { weight: 3, arbitrary: brokenBody },
  );
}

// ---- Headers, paths, methods ----

/** Header values a client might send; never CR or LF (those would end the header). */
const oddHeaderValue = fc.oneof(
  fc.string({ maxLength: 40 }).map((value) => value.replace(/[\r\n]/g, ' ')),
  fc.string({ unit: 'binary', maxLength: 40 }).map((value) => value.replace(/[\r\n]/g, ' ')),
  fc.constantFrom('', ' ', '\t', 'a\u0001b', 'a\u007fb', 'é', '日本', 'x'.repeat(8_000), 'x'.repeat(20_000)),
);

const headerName = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
  fc.constantFrom('__proto__', 'constructor', 'X-Api-Key', 'Content-Encoding', 'Accept', 'Origin', 'Cookie'),
);

const extraHeaders = fc.oneof(
  { weight: 6, arbitrary: fc.constant<[string, string][]>([]) },
  { weight: 3, arbitrary: fc.array(fc.tuple(headerName, oddHeaderValue), { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<[string, string][]>(
      [['Expect', 'nonsense']],
      [['Expect', '100-continue']],
      [['Content-Encoding', 'gzip']],
      [['Transfer-Encoding', 'chunked']],
      [['X-Forwarded-For', '1.2.3.4, ::1']],
    ),
  },
);

function apiKeyHeaders(context: FuzzContext): fc.Arbitrary<[string, string][]> {
  return fc.oneof(
    { weight: 14, arbitrary: fc.constant<[string, string][]>([['X-API-Key', context.apiKey]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 2, arbitrary: oddHeaderValue.map((value): [string, string][] => [['X-API-Key', value]]) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, string][]>(
        [['x-api-key', ` ${context.apiKey} `]],
        [
          ['X-API-Key', context.apiKey],
          ['X-API-Key', 'another-key'],
        ],
        [['X-API-Key', context.apiKey.toUpperCase()]],
      ),
    },
  );
}

const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant<[string, string][]>([['Content-Type', 'application/json']]) },
  { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'text/plain',
        'application/octet-stream',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        'application/x-www-form-urlencoded',
        'Application/JSON',
        '',
        'image/png',
      )
      .map((value): [string, string][] => [['Content-Type', value]]),
  },
);

const idempotencyKey = fc.oneof(
  { weight: 10, arbitrary: fc.constant<[string, string][]>([]) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), fc.constantFrom('fuzz-key-1', 'fuzz-key-2'))
      .map((key): [string, string][] => [['Idempotency-Key', key]]),
  },
  { weight: 2, arbitrary: oddHeaderValue.map((key): [string, string][] => [['Idempotency-Key', key]]) },
);

/** A path segment as a client might encode it, or not. */
const pathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{1,80}$/),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  fc.string({ minLength: 1, maxLength: 30 }).map((value) => value.replace(/[/?#\s\\]/g, '_')),
  fc.constantFrom(
    '%ff',
    '%',
    '%%',
    '..',
    '.',
    '%2e%2e',
    '%2F',
    'a%00b',
    '%E2%80%AE',
    '~',
    ';x=1',
    'x'.repeat(5_000),
  ),
);

const query = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '?service=openai',
      '?service=tripoai',
      '?service=',
      '?service=openai&service=openai',
      '?__proto__=1',
      '?constructor=x&toString=y',
      '?a=%zz',
      '?',
      '?&&=&',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 20 }))
      .map(([key, value]) => `?${encodeURIComponent(key)}=${encodeURIComponent(value)}`),
  },
);

/** The local host builds `new URL(target, base)`; targets that cannot be parsed are left out. */
const parseable = (target: string): boolean => URL.canParse(target, 'http://localhost');

const rarely = <T>(usual: T, others: readonly T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'SEARCH'];

// ---- Requests per route family ----

function generationRequests(
  prefix: 'generation' | 'generate',
  context: FuzzContext,
): fc.Arbitrary<FuzzRequest> {
  const operationInPath = (operation: string) =>
    fc.oneof(
      { weight: 20, arbitrary: fc.constant(operation) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('foo', 'TEXT-TO-IMAGE', `${operation}%00`, '%ff', 'x'.repeat(3_000), '..'),
      },
      { weight: 1, arbitrary: pathSegment },
    );
  return fc
    .tuple(generationBody(context), apiKeyHeaders(context), contentType, idempotencyKey, extraHeaders, query)
    .chain(([{ operation, payload }, key, type, idempotency, extra, search]) =>
      fc
        .tuple(operationInPath(operation), rarely('POST', OTHER_METHODS), fc.boolean())
        .map(([segment, method, slash]): FuzzRequest => {
          const headers = [...key, ...type, ...idempotency, ...payload.headers, ...extra];
          return {
            family: prefix,
            method,
            target: `/${prefix}/${segment}${slash && segment.length < 20 ? '/' : ''}${search}`,
            headers,
            ...(payload.body && method !== 'GET' && method !== 'HEAD' ? { body: payload.body } : {}),
          };
        }),
    )
    .filter((request) => parseable(request.target));
}

function statusRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const jobId =
    context.jobIds.length > 0
      ? fc.oneof(
          { weight: 2, arbitrary: fc.constantFrom(...context.jobIds) },
          { weight: 5, arbitrary: pathSegment },
        )
      : pathSegment;
  return fc
    .record({
      jobId,
      search: query,
      method: rarely('GET', OTHER_METHODS),
      key: apiKeyHeaders(context),
      extra: extraHeaders,
      body: fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 10, nil: undefined }),
    })
    .map(
      ({ jobId: id, search, method, key, extra, body }): FuzzRequest => ({
        family: 'status',
        method,
        target: `/tasks/${id}/status${search}`,
        headers: [...key, ...extra],
        ...(body && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
      }),
    )
    .filter((request) => parseable(request.target));
}

function registerRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      payload: registerBody(context),
      type: contentType,
      extra: extraHeaders,
      method: rarely('POST', OTHER_METHODS),
      target: rarely('/auth/register', [
        '/auth/register/',
        '/auth/register?x=1',
        '/auth/register?__proto__=1',
      ]),
      key: fc.option(apiKeyHeaders(context), { freq: 4, nil: undefined }),
    })
    .map(
      ({ payload, type, extra, method, target, key }): FuzzRequest => ({
        family: 'register',
        method,
        target,
        headers: [...type, ...payload.headers, ...(key ?? []), ...extra],
        ...(payload.body && method !== 'GET' && method !== 'HEAD' ? { body: payload.body } : {}),
      }),
    );
}

function healthRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      path: fc.constantFrom('/health', '/auth/health', '/health/', '/auth/health/'),
      search: query,
      method: rarely('GET', OTHER_METHODS),
      key: fc.option(apiKeyHeaders(context), { freq: 3, nil: undefined }),
      extra: extraHeaders,
      body: fc.option(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          brokenBody.map((p) => p.body ?? new Uint8Array()),
        ),
        {
          freq: 5,
          nil: undefined,
        },
      ),
    })
    .map(
      ({ path, search, method, key, extra, body }): FuzzRequest => ({
        family: 'health',
        method,
        target: `${path}${search}`,
        headers: [...(key ?? []), ...extra],
        ...(body && body.length > 0 && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
      }),
    );
}

/** Paths the local host serves besides the API (simulators, storage, the Step Functions endpoint). */
const HOST_PREFIXES = ['/__aws', '/__sandbox', '/storage/', '/rest/'];

function notFoundRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const path = fc.oneof(
    fc.array(pathSegment, { minLength: 1, maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
    fc.constantFrom(
      '/',
      '/generation',
      '/generation/',
      '/generation/text-to-image/extra',
      '/generate',
      '/tasks',
      '/tasks//status',
      '/tasks/x',
      '/tasks/x/status/extra',
      '/TASKS/x/status',
      '/auth',
      '/auth/',
      '/auth/register/x',
      '/health/x',
      '/Health',
      '/favicon.ico',
      '/.env',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/a/../../health',
      '/generation/../tasks/x/status',
      '*',
    ),
  );
  return fc
    .record({
      path,
      search: query,
      method: fc.constantFrom(...OTHER_METHODS),
      key: fc.option(apiKeyHeaders(context), { freq: 2, nil: undefined }),
      extra: extraHeaders,
      body: fc.option(brokenBody, { freq: 4, nil: undefined }),
    })
    .map(
      ({ path: target, search, method, key, extra, body }): FuzzRequest => ({
        family: 'not-found',
        method,
        target: target === '*' ? '*' : `${target}${search}`,
        headers: [...(key ?? []), ...extra, ...(body?.headers ?? [])],
        ...(body?.body && method !== 'GET' && method !== 'HEAD' ? { body: body.body } : {}),
      }),
    )
    .filter(
      (request) =>
        parseable(request.target) &&
        !HOST_PREFIXES.some((prefix) =>
          new URL(request.target, 'http://localhost').pathname.startsWith(prefix),
        ),
    );
}

/** Raw HTTP/1.1 that Node's parser refuses or answers itself (HTTP only, never direct). */
function protocolRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const host = 'Host: localhost\r\n';
  const raw = fc.oneof(
    fc.constantFrom(
      'GARBAGE\r\n\r\n',
      'FOO /health HTTP/1.1\r\nHost: localhost\r\n\r\n',
      'GET /health HTTP/9.9\r\nHost: localhost\r\n\r\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      'CONNECT localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n',
      `GET /health HTTP/1.1\r\n${host}Expect: nonsense\r\n\r\n`,
      `POST /auth/register HTTP/1.1\r\n${host}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /auth/register HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\n`,
      `POST /auth/register HTTP/1.1\r\n${host}Content-Length: abc\r\n\r\n`,
      `POST /auth/register HTTP/1.1\r\n${host}Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}`,
      `GET /health HTTP/1.1\r\n${host}X-API-Key: a\u0001b\r\n\r\n`,
      `GET /health HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`,
      `GET /health HTTP/1.1\r\n${host} folded: x\r\n\r\n`,
      `GET /tasks/\u00ff/status HTTP/1.1\r\n${host}\r\n`,
      `GET /tasks/a b/status HTTP/1.1\r\n${host}\r\n`,
      `GET /health HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${host}\r\n`,
      `GET /health HTTP/1.1\r\n${host}${'X-Many: a\r\n'.repeat(2_000)}\r\n`,
    ),
    // One byte of the request line or of a header value replaced by a random one. (Host and the
    // line ends stay: an HTTP/1.1 request without Host gets Node's own bodiless 400.)
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
      const requestLine = 'GET /tasks/x/status HTTP/1.1';
      const keyLine = `X-API-Key: ${context.apiKey}`;
      const bytes = Buffer.from(`${requestLine}\r\n${keyLine}\r\n${host}\r\n`, 'latin1');
      const position = at % (requestLine.length + keyLine.length);
      bytes[position < requestLine.length ? position : position + 2] = byte;
      return bytes.toString('latin1');
    }),
  );
  return raw
    .map((request) => request.replace(/\r\n\r\n/, '\r\nConnection: close\r\n\r\n'))
    .filter((request) => {
      // Only requests whose target the host can parse (see `parseable`).
      const target = /^[A-Z]+ (\S+) HTTP/.exec(request)?.[1];
      return target === undefined || parseable(target);
    })
    .map((request) => ({
      family: 'protocol',
      method: 'RAW',
      target: '',
      headers: [],
      raw: Buffer.from(request, 'latin1'),
    }));
}

export function fuzzRequests(family: RouteFamily, context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  switch (family) {
    case 'generation':
    case 'generate':
      return generationRequests(family, context);
    case 'status':
      return statusRequests(context);
    case 'register':
      return registerRequests(context);
    case 'health':
      return healthRequests(context);
    case 'not-found':
      return notFoundRequests(context);
    case 'protocol':
      return protocolRequests(context);
  }
}

/** A short description of a request for failure messages. */
export function describeRequest(request: FuzzRequest): string {
  if (request.raw) return JSON.stringify(Buffer.from(request.raw).toString('latin1').slice(0, 300));
  const body = request.body ? Buffer.from(request.body).toString('utf8') : '';
  const headers = request.headers.map(([name, value]) => `${name}: ${value.slice(0, 60)}`).join(' | ');
  return `${request.method} ${request.target.slice(0, 200)} [${headers}] ${body.length} bytes: ${body.slice(0, 300)}`;
}

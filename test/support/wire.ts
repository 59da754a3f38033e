/**
 * Wire tests: check a provider adapter against recorded request/response examples written from
 * the provider's own documentation, not against the local simulators (which can share the
 * adapter's mistakes).
 *
 * The pieces:
 * - `loadFixture(provider, name)` reads `test/fixtures/providers/<provider>/<name>.json`: one
 *   documented example with its `source` (the public doc page, spec or SDK file it was written
 *   from), the `request` the provider expects and the `response` it documents.
 * - `createWire()` is a fake `fetch` for `withProviderFetch` (functions/core/providers/http-client.ts):
 *   it records every call (method, URL, headers, parsed body) and answers from a queue of
 *   fixture responses. A call with nothing queued fails loudly, and `assertComplete()` (call it
 *   in `afterEach`) fails on such calls even when the adapter swallowed the thrown error, and on
 *   queued answers nobody asked for.
 * - `expectWireRequest(call, fixture.request, bindings)` asserts a recorded call is exactly the
 *   documented request: method, full URL, the listed headers, every body field and no other.
 *
 * Fixture format (all files are JSON):
 * ```json
 * {
 *   "source": "https://…provider doc page, official spec or SDK file @ commit…",
 *   "alsoSee": ["https://…optional further sources…"],
 *   "checked": "2026-12-02",
 *   "description": "what this example shows",
 *   "request": {
 *     "method": "POST",
 *     "url": "https://api.example.com/v1/thing",
 *     "headers": { "authorization": "Bearer {{api_key}}", "content-type": "multipart/form-data", "x-key": null },
 *     "fields": { "prompt": "…" },            // multipart text fields (exactly these)
 *     "files": [{ "name": "image", "filename": "image.png", "type": "image/png" }],  // multipart file parts
 *     "json": { "prompt": "…" }               // or a JSON body (exactly this)
 *   },
 *   "response": { "status": 200, "headers": { "content-type": "image/png" },
 *                 "binary": { "kind": "png", "width": 64, "height": 64 } }
 * }
 * ```
 * - Request headers: every header sent must be listed (`accept` excepted); a string value must
 *   match exactly; `null` means the header must be absent
 *   (e.g. no API key on a result download); `multipart/form-data` matches any boundary.
 * - `{{name}}` in a request string is replaced by `bindings[name]` (API keys, input bytes as
 *   base64, URLs from an earlier answer). An unbound placeholder fails the test.
 * - A response has at most one of `body` (JSON, sent as written), `text` (sent verbatim) or
 *   `binary` (bytes made at test time: `png`/`jpeg`/`webp` of the given size, a minimal `glb`,
 *   or `base64` data).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { z } from 'zod';
import { resetConfig } from '../../functions/core/config.ts';
import type { FetchedInput } from '../../functions/core/storage/input-fetcher.ts';
import { makePhotoFile } from './image-fixtures.ts';

// ---- Fixtures ----

const HeaderExpectationsSchema = z.record(z.string(), z.string().nullable());

const FilePartSchema = z.strictObject({
  name: z.string().min(1),
  filename: z.string().min(1),
  type: z.string().min(1),
});

const FixtureRequestSchema = z.strictObject({
  method: z.enum(['GET', 'POST']),
  url: z.string().min(1),
  headers: HeaderExpectationsSchema.default({}),
  fields: z.record(z.string(), z.string()).optional(),
  files: z.array(FilePartSchema).optional(),
  json: z.json().optional(),
});

const BinarySchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.enum(['png', 'jpeg', 'webp']),
    width: z.number().int().positive().max(4096),
    height: z.number().int().positive().max(4096),
  }),
  z.strictObject({ kind: z.literal('glb') }),
  z.strictObject({ kind: z.literal('base64'), data: z.string().min(1) }),
]);

const FixtureResponseSchema = z
  .strictObject({
    status: z.number().int().min(100).max(599),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.json().optional(),
    text: z.string().optional(),
    binary: BinarySchema.optional(),
  })
  .refine(
    (response) =>
      [response.body, response.text, response.binary].filter((part) => part !== undefined).length <= 1,
    { message: 'a response has at most one of body, text or binary' },
  );

const FixtureSchema = z.strictObject({
  source: z.url(),
  alsoSee: z.array(z.url()).optional(),
  checked: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  description: z.string().min(1),
  request: FixtureRequestSchema.optional(),
  response: FixtureResponseSchema,
});

export type WireFixture = z.infer<typeof FixtureSchema>;
export type FixtureRequest = z.infer<typeof FixtureRequestSchema>;
export type FixtureResponse = z.infer<typeof FixtureResponseSchema>;
export type FixtureBinary = z.infer<typeof BinarySchema>;

const FIXTURE_ROOT = new URL('../fixtures/providers/', import.meta.url);

/** Reads and checks `test/fixtures/providers/<provider>/<name>.json`. */
export function loadFixture(provider: string, name: string): WireFixture {
  const file = new URL(`${provider}/${name}.json`, FIXTURE_ROOT);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`wire fixture ${provider}/${name}.json could not be read: ${String(error)}`);
  }
  const parsed = FixtureSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`wire fixture ${provider}/${name}.json is malformed: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** The fixture's request, which a test about that request needs. */
export function requestOf(fixture: WireFixture): FixtureRequest {
  if (!fixture.request) throw new Error(`wire fixture "${fixture.description}" documents no request`);
  return fixture.request;
}

// ---- Bytes for binary bodies ----

/**
 * The smallest valid GLB: the 12-byte header ("glTF", version 2, total length) and one JSON
 * chunk holding `{"asset":{"version":"2.0"}}`, padded with spaces to 4 bytes.
 */
export function minimalGlb(): Buffer {
  let json = JSON.stringify({ asset: { version: '2.0' } });
  while (json.length % 4 !== 0) json += ' ';
  const chunk = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(12);
  header.write('glTF', 0, 'ascii');
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + chunk.length, 8);
  const chunkHeader = Buffer.alloc(8);
  chunkHeader.writeUInt32LE(chunk.length, 0);
  chunkHeader.write('JSON', 4, 'ascii');
  return Buffer.concat([header, chunkHeader, chunk]);
}

/** Real bytes for a fixture's binary description. */
export async function binaryBytes(binary: FixtureBinary): Promise<Buffer> {
  switch (binary.kind) {
    case 'png':
    case 'jpeg':
    case 'webp':
      return makePhotoFile(binary.kind, binary.width, binary.height, {
        seed: binary.width * 31 + binary.height,
      });
    case 'glb':
      return minimalGlb();
    case 'base64':
      return Buffer.from(binary.data, 'base64');
  }
}

// ---- Input files ----

/** An input file as the workflow hands it to an adapter (what `fetchInput` returns). */
export function fetchedInput(field: string, url: string, bytes: Buffer, contentType: string): FetchedInput {
  const path = new URL(url).pathname;
  return { field, url, bytes, contentType, filename: path.slice(path.lastIndexOf('/') + 1) || 'input' };
}

// ---- The fake fetch ----

export interface RecordedFilePart {
  name: string;
  filename: string;
  type: string;
  size: number;
  bytes: Buffer;
}

export type RecordedBody =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; value: string }
  | {
      kind: 'multipart';
      /** Text fields by name (a repeated name keeps its last value; see `fieldNames`). */
      fields: Record<string, string>;
      /** Every text field name in the order sent, repeats included. */
      fieldNames: string[];
      files: RecordedFilePart[];
    };

export interface RecordedCall {
  method: string;
  url: string;
  /** Header names lowercased, as they would go on the wire (fetch adds the multipart boundary). */
  headers: Record<string, string>;
  body: RecordedBody;
}

/** What a queued answer must be asked with; a call that differs fails loudly. */
export interface CallExpectation {
  method?: string;
  url?: string;
}

interface QueuedAnswer {
  label: string;
  expect?: CallExpectation;
  response: Promise<BuiltResponse>;
}

interface BuiltResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string | null;
}

async function buildResponse(response: FixtureResponse): Promise<BuiltResponse> {
  const headers = { ...response.headers };
  if (response.binary) return { status: response.status, headers, body: await binaryBytes(response.binary) };
  if (response.text !== undefined) return { status: response.status, headers, body: response.text };
  if (response.body !== undefined) {
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    return { status: response.status, headers, body: JSON.stringify(response.body) };
  }
  return { status: response.status, headers, body: null };
}

async function recordBody(request: Request): Promise<RecordedBody> {
  if (request.body === null) return { kind: 'none' };
  const contentType = request.headers.get('content-type') ?? '';
  if (contentType.startsWith('multipart/form-data')) {
    const form = await request.formData();
    const fields: Record<string, string> = {};
    const fieldNames: string[] = [];
    const files: RecordedFilePart[] = [];
    for (const [name, value] of form) {
      if (typeof value === 'string') {
        fields[name] = value;
        fieldNames.push(name);
      } else {
        const bytes = Buffer.from(await value.arrayBuffer());
        files.push({ name, filename: value.name, type: value.type, size: bytes.length, bytes });
      }
    }
    return { kind: 'multipart', fields, fieldNames, files };
  }
  const text = await request.text();
  if (contentType.includes('json')) {
    try {
      return { kind: 'json', value: JSON.parse(text) };
    } catch {
      return { kind: 'text', value: text };
    }
  }
  return { kind: 'text', value: text };
}

export interface Wire {
  /** The fake fetch: pass it to `withProviderFetch`. */
  readonly fetch: typeof fetch;
  /** Every call made, in call order (bodies are filled in once read: await the adapter first). */
  readonly calls: RecordedCall[];
  /** Queues the fixture's response as the answer to the next call. */
  respond(fixture: WireFixture | FixtureResponse, expect?: CallExpectation): Wire;
  /** The one call made; fails unless exactly one was made. */
  onlyCall(): RecordedCall;
  /** Throws if a call found nothing queued or did not match, or a queued answer was never asked for. */
  assertComplete(): void;
}

/** A fresh fake provider edge; see the file comment. */
export function createWire(): Wire {
  const calls: RecordedCall[] = [];
  const queue: QueuedAnswer[] = [];
  const problems: string[] = [];

  const fakeFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const method = request.method.toUpperCase();
    // Taken before any await, so concurrent calls keep their call order.
    const answer = queue.shift();
    const call: RecordedCall = {
      method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: { kind: 'none' },
    };
    calls.push(call);
    if (!answer) {
      const problem = `wire: unexpected ${method} ${request.url}: no response was queued for it`;
      problems.push(problem);
      throw new Error(problem);
    }
    const expected = answer.expect;
    if (
      expected &&
      ((expected.method && expected.method !== method) || (expected.url && expected.url !== request.url))
    ) {
      const problem = `wire: ${method} ${request.url} was answered by "${answer.label}", which expects ${expected.method ?? method} ${expected.url ?? request.url}`;
      problems.push(problem);
      throw new Error(problem);
    }
    call.body = await recordBody(request);
    const built = await answer.response;
    return new Response(
      typeof built.body === 'string' || built.body === null ? built.body : new Uint8Array(built.body),
      {
        status: built.status,
        headers: built.headers,
      },
    );
  };

  const wire: Wire = {
    fetch: fakeFetch,
    calls,
    respond(fixture, expect) {
      const response = 'response' in fixture ? fixture.response : fixture;
      const label = 'description' in fixture ? fixture.description : `HTTP ${response.status}`;
      const built = buildResponse(response);
      // Surfaced when the call consumes it; not an unhandled rejection before that.
      built.catch(() => undefined);
      queue.push({ label, response: built, ...(expect ? { expect } : {}) });
      return wire;
    },
    onlyCall() {
      expect(calls, 'exactly one provider call').toHaveLength(1);
      const [call] = calls;
      if (!call) throw new Error('wire: no call was made');
      return call;
    },
    assertComplete() {
      const leftover = queue.map((answer) => `"${answer.label}"`);
      const all = [
        ...problems,
        ...(leftover.length > 0 ? [`wire: queued answers never asked for: ${leftover.join(', ')}`] : []),
      ];
      if (all.length > 0) throw new Error(all.join('\n'));
    },
  };
  return wire;
}

// ---- Assertions ----

export type Bindings = Record<string, string>;

function bindString(value: string, bindings: Bindings): string {
  return value.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const bound = bindings[name];
    if (bound === undefined) throw new Error(`wire: fixture placeholder {{${name}}} has no binding`);
    return bound;
  });
}

/** The value with every `{{name}}` placeholder in its strings replaced. */
export function bind<T>(value: T, bindings: Bindings): T {
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return bindString(item, bindings);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === 'object') {
      return Object.fromEntries(Object.entries(item).map(([key, entry]) => [key, walk(entry)]));
    }
    return item;
  };
  return walk(value) as T;
}

/** Content negotiation only: sent by clients without changing what the request asks for. */
const TOLERATED_HEADERS = new Set(['accept']);

/**
 * Asserts the recorded call is exactly the fixture's request: method, full URL, the listed
 * headers (null = absent) and no unlisted header but `accept`, and for a body every documented
 * field and nothing else.
 */
export function expectWireRequest(
  call: RecordedCall,
  expected: FixtureRequest,
  bindings: Bindings = {},
): void {
  const request = bind(expected, bindings);
  expect(call.method, 'method').toBe(request.method);
  expect(call.url, 'URL').toBe(request.url);
  const listed = new Set(Object.keys(request.headers).map((name) => name.toLowerCase()));
  const unlisted = Object.keys(call.headers).filter(
    (name) => !listed.has(name) && !TOLERATED_HEADERS.has(name),
  );
  expect(unlisted, 'headers the fixture does not document').toStrictEqual([]);
  for (const [name, value] of Object.entries(request.headers)) {
    const actual = call.headers[name.toLowerCase()];
    if (value === null) expect(actual, `header ${name} must not be sent`).toBeUndefined();
    else if (name.toLowerCase() === 'content-type' && value === 'multipart/form-data') {
      expect(actual, 'content-type').toMatch(/^multipart\/form-data; boundary=\S+$/);
    } else expect(actual, `header ${name}`).toBe(value);
  }
  if (request.fields !== undefined || request.files !== undefined) {
    if (call.body.kind !== 'multipart')
      throw new Error(`wire: expected a multipart body, got ${call.body.kind}`);
    expect(call.body.fields, 'multipart text fields (exactly the documented ones)').toStrictEqual(
      request.fields ?? {},
    );
    expect(call.body.fieldNames, 'no text field is sent twice').toHaveLength(
      new Set(call.body.fieldNames).size,
    );
    expect(
      call.body.files.map(({ name, filename, type }) => ({ name, filename, type })),
      'multipart file parts',
    ).toStrictEqual(request.files ?? []);
  } else if (request.json !== undefined) {
    if (call.body.kind !== 'json') throw new Error(`wire: expected a JSON body, got ${call.body.kind}`);
    expect(call.body.value, 'JSON body (exactly the documented fields)').toStrictEqual(request.json);
  } else {
    expect(call.body.kind, 'no request body').toBe('none');
  }
}

/** The multipart file part `name` of a recorded call. */
export function filePart(call: RecordedCall, name: string): RecordedFilePart {
  if (call.body.kind !== 'multipart')
    throw new Error(`wire: expected a multipart body, got ${call.body.kind}`);
  const part = call.body.files.find((file) => file.name === name);
  if (!part) throw new Error(`wire: no file part named ${name}`);
  return part;
}

/** The rejection of `work`; fails the test if it resolves. */
export async function rejectionOf(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`expected an Error, got ${String(error)}`);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * A message a client can act on: one line, starting with a capital letter, no raw JSON, no
 * `undefined`/`[object Object]` leaking from a missing field.
 */
export function expectClearSentence(message: string): void {
  expect(message.length, 'message length').toBeGreaterThan(20);
  expect(message.length, 'message length').toBeLessThan(700);
  expect(message, 'starts like a sentence').toMatch(/^[A-Z]/);
  expect(message, 'one line').not.toMatch(/\n/);
  expect(message, 'no raw JSON').not.toMatch(/[{[]\s*"/);
  expect(message).not.toContain('undefined');
  expect(message).not.toContain('[object Object]');
}

/** Asserts the error's class name and that its message is a clear sentence. */
export function expectNamedError(error: Error, name: string): void {
  expect(error.name, `error class (message: ${error.message})`).toBe(name);
  expectClearSentence(error.message);
}

// ---- Environment ----

/**
 * Sets (or, with undefined, removes) environment variables and resets the parsed configuration;
 * returns a function that restores the previous values (and resets it again).
 */
export function setEnvironment(values: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const apply = (next: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(next)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfig();
  };
  apply(values);
  return () => apply(previous);
}

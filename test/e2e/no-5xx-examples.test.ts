import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TENANT } from '../../functions/core/auth/api-keys.ts';
import { toAttribute } from '../../functions/core/store/dynamo.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import type { FuzzRequest } from '../support/fuzz-bodies.ts';
import { type FuzzAnswer, sendRaw } from '../support/fuzz-client.ts';
import { samplePng, startTestStack, TEST_KEY, type TestStack } from '../support/local-stack.ts';

/**
 * The requests the fuzzer once got a 5xx (or a wrong 4xx, or an empty body) for, each answered
 * the way a client can act on: a 4xx whose JSON `detail` names the field or limit, or a success
 * that stores what was sent.
 */

let stack: TestStack;
let imageUrl: string;

beforeAll(async () => {
  stack = await startTestStack({ env: { RATE_LIMIT_GENERATION_PER_MINUTE: '100000' } });
  imageUrl = await stack.upload('uploads/examples/input.png', await samplePng(64, 64), 'image/png');
});

afterAll(async () => {
  await stack.runner.idle();
  await stack.stop();
});

function post(
  path: string,
  body: string | Uint8Array,
  headers: [string, string][] = [],
): Promise<FuzzAnswer> {
  const request: FuzzRequest = {
    family: 'generation',
    method: 'POST',
    target: path,
    headers: [['X-API-Key', TEST_KEY], ['Content-Type', 'application/json'], ...headers],
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
  return sendRaw(stack.port, request);
}

function raw(text: string): Promise<FuzzAnswer> {
  return sendRaw(stack.port, {
    family: 'protocol',
    method: 'RAW',
    target: '',
    headers: [],
    raw: Buffer.from(text, 'latin1'),
  });
}

const detailOf = (answer: FuzzAnswer) =>
  (JSON.parse(answer.body.toString('utf8')) as { detail: string }).detail;
const json = (answer: FuzzAnswer) => JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;

describe('provider that is not a string', () => {
  it.each([
    ['an object that cannot be turned into a string', { toString: 1 }, 'an object'],
    ['an array holding a valid name', ['openai'], 'an array'],
    ['a number', 1, 'a number'],
  ])('is a 400 naming provider: %s', async (_, provider, kind) => {
    const answer = await post(
      '/generation/text-to-image',
      JSON.stringify({ task_id: 'p', provider, prompt: 'a cube' }),
    );
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toBe(
      `Unsupported provider for text-to-image: provider must be a string, not ${kind}. Supported providers: openai, stability, recraft`,
    );
    expect(json(answer).errors).toEqual([
      { field: 'provider', message: 'must be a string, one of: openai, stability, recraft' },
    ]);
  });
});

describe('nesting', () => {
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

  it('2,800 levels with an Idempotency-Key is a 400 naming the limit', async () => {
    const body = `{"task_id":"p","provider":"openai","prompt":"a cube","extra":${deep(2_800)}}`;
    const answer = await post('/generation/text-to-image', body, [['Idempotency-Key', 'deep-example']]);
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toBe('Request body must not nest objects and arrays more than 32 levels deep');
  });

  it('is allowed up to 32 levels, counting the body itself', async () => {
    const accepted = await post(
      '/generation/text-to-image',
      `{"task_id":"p","provider":"openai","prompt":"a cube","extra":${deep(31)}}`,
    );
    expect(accepted.status).toBe(202);
    const refused = await post(
      '/generation/text-to-image',
      `{"task_id":"p","provider":"openai","prompt":"a cube","extra":${deep(32)}}`,
    );
    expect(refused.status).toBe(400);
    expect(json(refused).errors).toEqual([
      { field: `extra${'.a'.repeat(31)}`, message: 'is nested more than 32 levels deep' },
    ]);
  });
});

describe('numbers DynamoDB cannot store', () => {
  it('a magnitude below 1e-130 is accepted and stored as 0', async () => {
    const answer = await post(
      '/generation/sketch-to-image',
      JSON.stringify({
        task_id: 'tiny',
        provider: 'stability',
        prompt: 'a cube',
        input_sketch_asset_url: imageUrl,
        control_strength: 1e-200,
      }),
    );
    expect(answer.status).toBe(202);
    const jobId = String(json(answer).celery_task_id);
    const task = await taskRepository.get(TEST_TENANT.tenant_id, jobId);
    expect(task?.params.control_strength).toBe(0);
  });

  it('a tiny number in registration metadata is stored too', async () => {
    const answer = await sendRaw(stack.port, {
      family: 'register',
      method: 'POST',
      target: '/auth/register',
      headers: [['Content-Type', 'application/json']],
      body: Buffer.from(
        JSON.stringify({
          verification_secret: stack.registrationSecret,
          tenant_type: 'custom',
          tenant_identifier: 'tiny-metadata',
          metadata: { weight: 5e-324 },
        }),
      ),
    });
    expect(answer.status).toBe(201);
  });

  it.each(['1e126', '-1e400', '1.7976931348623157e308'])('%s is a 400 naming the field', async (literal) => {
    const answer = await post(
      '/generation/text-to-image',
      `{"task_id":"p","provider":"openai","prompt":"a cube","n":${literal}}`,
    );
    expect(answer.status).toBe(400);
    expect(json(answer).errors).toEqual([
      { field: 'n', message: 'must be a number greater than -1e126 and less than 1e126' },
    ]);
  });

  it('the store writes the smallest and largest storable magnitudes as they are', () => {
    expect(toAttribute(1e-130)).toEqual({ N: '1e-130' });
    // The largest double below 1e126 (9.999999999999999e125 rounds to 1e126 itself).
    expect(toAttribute(-9.999999999999998e125)).toEqual({ N: '-9.999999999999998e+125' });
    expect(toAttribute(9.9e-131)).toEqual({ N: '0' });
    expect(toAttribute(-5e-324)).toEqual({ N: '0' });
    expect(() => toAttribute(1e126)).toThrow(RangeError);
    expect(() => toAttribute(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('bodies that are not UTF-8 JSON', () => {
  it('1 MiB - 1 bytes of invalid UTF-8 is a 400, not a 413', async () => {
    const answer = await post('/generation/text-to-image', Buffer.alloc(1024 * 1024 - 1, 0xff));
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toBe('Request body must be UTF-8 encoded JSON');
  });

  it('1 MiB + 1 bytes is a 413 whatever the bytes', async () => {
    const answer = await post('/generation/text-to-image', Buffer.alloc(1024 * 1024 + 1, 0xff));
    expect(answer.status).toBe(413);
    expect(detailOf(answer)).toBe('Request body must not exceed 1 MiB');
  });

  it('a leading byte order mark is ignored', async () => {
    const answer = await post(
      '/generation/text-to-image',
      '\uFEFF{"task_id":"bom","provider":"openai","prompt":"a"}',
    );
    expect(answer.status).toBe(202);
  });

  it('a __proto__ key is a 400 naming where it is', async () => {
    const answer = await post(
      '/generation/text-to-image',
      '{"task_id":"p","metadata":{"__proto__":{"x":1}}}',
    );
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toBe("Request body must not use the key '__proto__'");
    expect(json(answer).errors).toEqual([{ field: '__proto__', message: 'is not an allowed key' }]);
  });
});

describe("the local host's own answers", () => {
  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, /^Malformed HTTP request/],
    [
      'headers over the limit',
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      /^Request headers must not exceed \d+ bytes in total$/,
    ],
    [
      'a control character in a header',
      'GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: a\u0001b\r\n\r\n',
      400,
      /^Malformed HTTP request/,
    ],
    [
      'an Expect other than 100-continue',
      'GET /health HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n',
      417,
      /^Expect is supported only as 100-continue$/,
    ],
    ['CONNECT', 'CONNECT x:80 HTTP/1.1\r\nHost: x\r\n\r\n', 405, /^CONNECT is not supported$/],
  ])('%s: JSON with a detail', async (_, request, status, detail) => {
    const answer = await raw(request);
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(detailOf(answer)).toMatch(detail);
  });
});

describe('paths', () => {
  it.each([
    ['an id that is not percent-decodable', '/tasks/%ff/status', 404],
    ['a 5,000-character id', `/tasks/${'a'.repeat(5_000)}/status`, 404],
    ['a dot-dot segment', '/tasks/../status', 404],
    ['8,000 trailing slashes', `/health${'/'.repeat(8_000)}`, 200],
  ])('%s answers %i', async (_, path, status) => {
    const answer = await sendRaw(stack.port, {
      family: 'status',
      method: 'GET',
      target: path,
      headers: [['X-API-Key', TEST_KEY]],
    });
    expect(answer.status).toBe(status);
  });
});

import { type AddressInfo, createServer } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/register-api-key.ts';
import {
  beginRegistrationAttempt,
  endRegistrationAttempt,
  RegistrationLockedError,
} from '../../functions/core/auth/registration-limit.ts';
import { resetConfig } from '../../functions/core/config.ts';
import { resetDynamoClient } from '../../functions/core/store/dynamo.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * POST /auth/register's handler called with API Gateway events from chosen client addresses
 * (the local host always reports the socket's address), against the local stack's DynamoDB.
 */

const LIMIT = 3;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { REGISTRATION_FAILURES_PER_WINDOW: String(LIMIT) } });
});

afterAll(async () => {
  await stack.stop();
});

const context = { functionName: 'register-api-key', awsRequestId: 'test' } as Context;

function event(sourceIp: string, body: unknown): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /auth/register',
    rawPath: '/auth/register',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path: '/auth/register', protocol: 'HTTP/1.1', sourceIp, userAgent: 'test' },
      requestId: `request-${Math.random()}`,
      routeKey: 'POST /auth/register',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
}

async function register(sourceIp: string, body: Record<string, unknown>): Promise<Answer> {
  const result = (await handler(event(sourceIp, body), context)) as APIGatewayProxyStructuredResultV2;
  return {
    status: result.statusCode ?? 0,
    body: JSON.parse(String(result.body)) as Record<string, unknown>,
    headers: result.headers ?? {},
  };
}

const valid = () => ({
  verification_secret: stack.registrationSecret,
  tenant_type: 'custom',
  tenant_identifier: 'limit-app',
});
const wrong = () => ({ ...valid(), verification_secret: 'a guess' });

describe('failed registration attempts per client address', () => {
  it(`answers 429 after ${LIMIT} wrong secrets, to the right secret too, and only for that address`, async () => {
    for (let attempt = 0; attempt < LIMIT; attempt++) {
      expect((await register('203.0.113.1', wrong())).status).toBe(401);
    }
    for (const body of [wrong(), valid()]) {
      const locked = await register('203.0.113.1', body);
      expect(locked.status).toBe(429);
      expect(locked.body).toEqual({
        detail: expect.stringMatching(
          /^Too many failed registration attempts from this address; retry after \d+ seconds$/,
        ),
      });
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    }
    // Another address still registers, and still gets its own failures.
    expect((await register('203.0.113.2', valid())).status).toBe(201);
    expect((await register('203.0.113.2', wrong())).status).toBe(401);
    expect((await register('2001:db8::1', valid())).status).toBe(201);
  });

  it('does not count registrations with the right secret (key rotation, many tenants)', async () => {
    for (let index = 0; index < LIMIT * 3; index++) {
      expect((await register('203.0.113.3', { ...valid(), tenant_identifier: `app-${index}` })).status).toBe(
        201,
      );
    }
    for (let attempt = 0; attempt < LIMIT; attempt++) {
      expect((await register('203.0.113.3', wrong())).status).toBe(401);
    }
    expect((await register('203.0.113.3', valid())).status).toBe(429);
  });

  it('compares no more than the limit of a burst of concurrent guesses', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => register('203.0.113.4', wrong())));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20 - LIMIT);
  });

  it('answers 503, not a free guess, when the attempt count cannot be kept', async () => {
    const endpoint = process.env.DYNAMODB_ENDPOINT;
    // A store that drops every connection.
    const broken = createServer((socket) => socket.destroy());
    await new Promise<void>((listening) => broken.listen(0, '127.0.0.1', listening));
    process.env.DYNAMODB_ENDPOINT = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
    resetConfig();
    resetDynamoClient();
    try {
      const answer = await register('203.0.113.5', valid());
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({
        detail: 'Registration is temporarily unavailable; please retry shortly',
      });
    } finally {
      process.env.DYNAMODB_ENDPOINT = endpoint;
      resetConfig();
      resetDynamoClient();
      await new Promise((closed) => broken.close(closed));
    }
    expect((await register('203.0.113.5', valid())).status).toBe(201);
  });
});

describe('the window', () => {
  // A fixed clock: the window opens at the first attempt and lasts 15 minutes (the default).
  const start = 2_000_000_000;
  const window = 15 * 60;

  it('opens at the first attempt and frees the address when it ends', async () => {
    const address = '198.51.100.1';
    for (let attempt = 0; attempt < LIMIT; attempt++) {
      // A failure: the slot is not given back.
      expect(await beginRegistrationAttempt(address, start + attempt)).toEqual({
        address,
        windowEnds: start + window,
      });
    }
    const lockedAt = async (now: number) => {
      const error = await beginRegistrationAttempt(address, now).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RegistrationLockedError);
      return (error as RegistrationLockedError).retryAfterSeconds;
    };
    expect(await lockedAt(start + 10)).toBe(window - 10);
    expect(await lockedAt(start + window - 1)).toBe(1);
    // The window has passed: a new one opens with this attempt.
    const fresh = await beginRegistrationAttempt(address, start + window);
    expect(fresh).toEqual({ address, windowEnds: start + 2 * window });
  });

  it('gives a right secret its slot back within the same window only', async () => {
    const address = '198.51.100.2';
    for (let attempt = 0; attempt < LIMIT; attempt++) {
      await endRegistrationAttempt(await beginRegistrationAttempt(address, start));
    }
    // All given back: the address still has its whole allowance of failures.
    for (let attempt = 0; attempt < LIMIT; attempt++) await beginRegistrationAttempt(address, start + 1);
    await expect(beginRegistrationAttempt(address, start + 2)).rejects.toBeInstanceOf(
      RegistrationLockedError,
    );
    // A slot taken in an earlier window is not given back to a later one.
    await endRegistrationAttempt({ address, windowEnds: start - 1 });
    await expect(beginRegistrationAttempt(address, start + 3)).rejects.toBeInstanceOf(
      RegistrationLockedError,
    );
  });
});

describe('registration body limits', () => {
  const registerWith = (fields: Record<string, unknown>) => register('192.0.2.1', { ...valid(), ...fields });

  it.each(['..', '.', ' ... '])('refuses tenant_identifier %j, naming the field', async (identifier) => {
    const answer = await registerWith({ tenant_identifier: identifier });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { field: 'tenant_identifier', message: "must contain a character other than '.'" },
    ]);
    expect(answer.body.detail).toMatch(/^Invalid request: tenant_identifier /);
  });

  it('accepts identifiers with dots and other characters, which storage paths encode', async () => {
    for (const identifier of ['a.b', '.hidden', 'a/b', 'My App']) {
      expect((await registerWith({ tenant_identifier: identifier })).status, identifier).toBe(201);
    }
  });

  it('refuses metadata over 16 KiB as JSON, naming metadata and the limit', async () => {
    const fits = { notes: 'x'.repeat(16 * 1024 - '{"notes":""}'.length) };
    expect((await registerWith({ metadata: fits })).status).toBe(201);
    const answer = await registerWith({ metadata: { notes: `${fits.notes}x` } });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { field: 'metadata', message: 'must be at most 16384 bytes (16 KiB) as JSON' },
    ]);
    // Far over DynamoDB's 400 KB item limit: a 400, not a 5xx from the store.
    expect((await registerWith({ metadata: { notes: 'x'.repeat(600_000) } })).status).toBe(400);
  });

  it('refuses metadata nested more than 8 levels, naming metadata', async () => {
    // `levels` objects and arrays, alternating, the outermost an object: {next: [{next: …}]}.
    const nested = (levels: number): Record<string, unknown> => {
      let value: unknown = { leaf: true };
      for (let level = levels - 1; level >= 1; level--) value = level % 2 ? { next: value } : [value];
      return value as Record<string, unknown>;
    };
    expect((await registerWith({ metadata: nested(8) })).status).toBe(201);
    const answer = await registerWith({ metadata: nested(9) });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { field: 'metadata', message: 'must nest objects and arrays at most 8 levels deep' },
    ]);
  });

  it('refuses an empty key anywhere in metadata, which DynamoDB cannot store', async () => {
    for (const metadata of [{ '': 1 }, { a: { '': 'x' } }, { a: [{ '': null }] }]) {
      const answer = await registerWith({ metadata });
      expect(answer.status, JSON.stringify(metadata)).toBe(400);
      expect(answer.body.errors).toEqual([{ field: 'metadata', message: 'must not have an empty key' }]);
    }
    expect((await registerWith({ metadata: { a: '', b: [], c: {} } })).status).toBe(201);
  });
});

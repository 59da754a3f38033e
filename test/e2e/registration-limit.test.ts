import { createHash } from 'node:crypto';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient, tableName } from '../../functions/core/store/dynamo.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Guessing the registration secret over HTTP, with the default limit (10 failures per client
 * address per 15 minutes). The local host takes the client address from the socket, so every
 * request here comes from the same address; other addresses are covered by
 * test/unit/registration-limit.test.ts.
 */

let stack: TestStack;
/** Registered before any guessing, for the revocation test. */
let revocableKey: string;

beforeAll(async () => {
  stack = await startTestStack();
  const registered = await stack.call('/auth/register', {
    apiKey: null,
    body: {
      verification_secret: stack.registrationSecret,
      tenant_type: 'custom',
      tenant_identifier: 'revoked',
    },
  });
  revocableKey = ((await registered.json()) as { api_key: string }).api_key;
});

afterAll(async () => {
  await stack.stop();
});

const register = (verificationSecret: string, tenant = 'guess-target') =>
  stack.call('/auth/register', {
    apiKey: null,
    body: { verification_secret: verificationSecret, tenant_type: 'custom', tenant_identifier: tenant },
  });

describe('registration secret guessing', () => {
  it('is refused with 429 and Retry-After after 10 wrong secrets, the right secret included', async () => {
    // Registrations with the right secret are not failures: rotating keys never locks an operator out.
    for (let index = 0; index < 12; index++) {
      expect((await register(stack.registrationSecret, `tenant-${index}`)).status).toBe(201);
    }
    for (let guess = 0; guess < 10; guess++) {
      const refused = await register(`guess-${guess}`);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ detail: 'Invalid verification secret. Access denied.' });
    }
    for (const secret of ['guess-10', stack.registrationSecret]) {
      const limited = await register(secret);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await limited.json()) as { detail: string };
      expect(body.detail).toMatch(
        /^Too many failed registration attempts from this address; retry after \d+ seconds$/,
      );
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(body.detail).toContain(`retry after ${retryAfter} seconds`);
    }
  });

  it('leaves the rest of the API alone: keys and tasks still work from that address', async () => {
    expect((await stack.call('/tasks/none/status')).status).toBe(404);
    expect((await stack.call('/auth/health', { apiKey: null })).status).toBe(200);
  });
});

describe('key revocation', () => {
  it("refuses a key from the next request on once the README's update-item sets active to false", async () => {
    const apiKey = revocableKey;
    expect((await stack.call('/tasks/none/status', { apiKey })).status).toBe(404);

    // The README's command, through the SDK: the key's item is found by the key's SHA-256.
    const keyHash = createHash('sha256').update(apiKey).digest('hex');
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: { pk: { S: `APIKEY#${keyHash}` }, sk: { S: 'APIKEY' } },
        UpdateExpression: 'SET active = :false',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':false': { BOOL: false } },
      }),
    );
    const refused = await stack.call('/tasks/none/status', { apiKey });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ detail: 'Invalid or inactive API key' });
  });
});

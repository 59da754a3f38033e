import { createHash } from 'node:crypto';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { dynamoClient, tableName } from '../../functions/core/store/dynamo.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * API_KEY_CACHE_SECONDS through the local stack (README, Security): unset, every request reads the
 * key's item (test/e2e/registration-limit.test.ts revokes a key that way); above 0, a key accepted
 * less than that long ago is accepted from memory, so a revocation reaches a warm process within
 * that time; keys that were refused are never remembered. The setting is read through config.ts,
 * which the tests reset when they change it between requests.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** API_KEY_CACHE_SECONDS for the next requests (config.ts reads it again after a reset). */
function setCacheSeconds(value: string | undefined): void {
  if (value === undefined) delete process.env.API_KEY_CACHE_SECONDS;
  else process.env.API_KEY_CACHE_SECONDS = value;
  resetConfig();
}

afterEach(() => setCacheSeconds(undefined));

async function registerKey(tenant: string): Promise<string> {
  const registered = await stack.call('/auth/register', {
    apiKey: null,
    body: { verification_secret: stack.registrationSecret, tenant_type: 'custom', tenant_identifier: tenant },
  });
  expect(registered.status).toBe(201);
  return ((await registered.json()) as { api_key: string }).api_key;
}

/** The README's revocation (and its reverse), through the SDK. */
async function setActive(apiKey: string, active: boolean): Promise<void> {
  const keyHash = createHash('sha256').update(apiKey).digest('hex');
  await dynamoClient().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: { pk: { S: `APIKEY#${keyHash}` }, sk: { S: 'APIKEY' } },
      UpdateExpression: 'SET active = :active',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':active': { BOOL: active } },
    }),
  );
}

const statusOf = async (apiKey: string) => (await stack.call('/tasks/none/status', { apiKey })).status;

describe('API key cache', () => {
  it('accepts a revoked key from memory until the cache time has passed, then refuses it', async () => {
    const apiKey = await registerKey('cached-tenant');
    setCacheSeconds('60');
    expect(await statusOf(apiKey)).toBe(404);
    await setActive(apiKey, false);
    // Accepted less than 60 s ago: answered from memory, as README "Security" says.
    expect(await statusOf(apiKey)).toBe(404);
    // Off again: the item is read, and the revocation shows at once.
    setCacheSeconds('0');
    expect(await statusOf(apiKey)).toBe(401);
  });

  it('forgets an accepted key once its time is up', async () => {
    const apiKey = await registerKey('short-cache-tenant');
    setCacheSeconds('1');
    const acceptedBy = performance.now();
    expect(await statusOf(apiKey)).toBe(404);
    await setActive(apiKey, false);
    // Waits until more than the cache time has passed since the acceptance; never less.
    while (performance.now() - acceptedBy <= 1100) await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await stack.call('/tasks/none/status', { apiKey });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ detail: 'Invalid or inactive API key' });
  });

  it('never remembers a refused key: a key made active again works on its next request', async () => {
    const apiKey = await registerKey('reactivated-tenant');
    setCacheSeconds('60');
    await setActive(apiKey, false);
    expect(await statusOf(apiKey)).toBe(401);
    await setActive(apiKey, true);
    expect(await statusOf(apiKey)).toBe(404);
    expect(await statusOf('makeit3d_test_sk_custom_neverRegisteredKey')).toBe(401);
  });

  it('keeps tenants apart: each key answers for its own tenant from memory too', async () => {
    setCacheSeconds('60');
    const first = await registerKey('tenant-one');
    const second = await registerKey('tenant-two');
    const accepted = await stack.call('/generation/text-to-image', {
      apiKey: first,
      body: { task_id: 'cache-isolation', provider: 'openai', prompt: 'a chair' },
    });
    expect(accepted.status).toBe(202);
    const jobId = ((await accepted.json()) as { celery_task_id: string }).celery_task_id;
    for (let round = 0; round < 2; round++) {
      expect((await stack.call(`/tasks/${jobId}/status`, { apiKey: first })).status).toBe(200);
      expect((await stack.call(`/tasks/${jobId}/status`, { apiKey: second })).status).toBe(404);
    }
  });

  it('refuses a setting outside 0-60 seconds instead of guessing', async () => {
    const apiKey = await registerKey('misconfigured-tenant');
    setCacheSeconds('3600');
    expect(await statusOf(apiKey)).toBe(500);
  });
});

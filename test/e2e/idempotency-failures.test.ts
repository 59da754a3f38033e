import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient, tableName } from '../../functions/core/store/dynamo.ts';
import { type DynamoFaults, injectDynamoFaults } from '../support/dynamo-faults.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Idempotency never hands out a job that does not exist: the claim of an `Idempotency-Key` and
 * the task's write succeed together or the claim is given back, and a claim left behind by a
 * request that could not give it back is taken over, not answered. Failures are injected at the
 * network edge between the handlers and DynamoDB.
 */

let stack: TestStack;
let faults: DynamoFaults;
const body = { task_id: 'idem-fail', provider: 'openai', prompt: 'a lamp' };

beforeAll(async () => {
  stack = await startTestStack();
  faults = await injectDynamoFaults();
});

afterEach(() => {
  faults.rules = [];
});

afterAll(async () => {
  await faults.close();
  await stack.runner.idle();
  await stack.stop();
});

async function submit(
  key: string,
): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const response = await stack.call('/generation/text-to-image', {
    body,
    headers: { 'idempotency-key': key },
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    retryAfter: response.headers.get('retry-after'),
  };
}

async function statusOf(jobId: unknown): Promise<number> {
  const response = await stack.call(`/tasks/${String(jobId)}/status`);
  await response.arrayBuffer();
  return response.status;
}

/** Backdates a claim, as if the request that made it had died long ago. */
async function ageClaim(key: string): Promise<void> {
  await dynamoClient().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: { pk: { S: 'TENANT#development_tenant' }, sk: { S: `IDEMPOTENCY#${key}` } },
      UpdateExpression: 'SET claimed_at = :old',
      ExpressionAttributeValues: { ':old': { N: String(Math.floor(Date.now() / 1000) - 3600) } },
    }),
  );
}

describe('Idempotency-Key when the task write fails', () => {
  it('gives the key back: the retry runs as a new job that exists', async () => {
    faults.rules = [{ operation: 'PutItem', contains: '"TASK#' }];
    const failed = await submit('write-fails');
    expect(failed.status).toBe(503);
    expect(failed.body.detail).toMatch(/could not be recorded; please retry/);
    expect(faults.failed.some((request) => request.operation === 'PutItem')).toBe(true);

    faults.rules = [];
    const retried = await submit('write-fails');
    expect(retried.status).toBe(202);
    expect(await statusOf(retried.body.celery_task_id)).toBe(200);
    const repeat = await submit('write-fails');
    expect(repeat.status).toBe(200);
    expect(repeat.body.celery_task_id).toBe(retried.body.celery_task_id);
  });

  it('answers 409 while a claim without a task is young, and takes over one that is dead', async () => {
    // The task write and the release both fail: the claim is left naming a job that never existed.
    faults.rules = [
      { operation: 'PutItem', contains: '"TASK#' },
      { operation: 'DeleteItem', contains: 'IDEMPOTENCY#' },
    ];
    const failed = await submit('left-behind');
    expect(failed.status).toBe(503);

    faults.rules = [];
    const soon = await submit('left-behind');
    expect(soon.status).toBe(409);
    expect(soon.body.detail).toMatch(/still being processed; retry/);
    // The first copy normally records its task within a second or two.
    expect(soon.retryAfter).toMatch(/^[12]$/);

    await ageClaim('left-behind');
    const later = await submit('left-behind');
    expect(later.status).toBe(202);
    expect(await statusOf(later.body.celery_task_id)).toBe(200);
    const repeat = await submit('left-behind');
    expect(repeat.status).toBe(200);
    expect(repeat.body.celery_task_id).toBe(later.body.celery_task_id);
  });

  it('lets exactly one of many concurrent repeats take a dead claim over', async () => {
    faults.rules = [
      { operation: 'PutItem', contains: '"TASK#' },
      { operation: 'DeleteItem', contains: 'IDEMPOTENCY#' },
    ];
    expect((await submit('race')).status).toBe(503);
    faults.rules = [];
    await ageClaim('race');

    const answers = await Promise.all(Array.from({ length: 12 }, () => submit('race')));
    const created = answers.filter((answer) => answer.status === 202);
    expect(created).toHaveLength(1);
    const jobId = created[0]?.body.celery_task_id;
    for (const answer of answers) {
      expect([200, 202, 409]).toContain(answer.status);
      if (answer.status === 200) expect(answer.body.celery_task_id).toBe(jobId);
    }
    expect(await statusOf(jobId)).toBe(200);
  });

  it('answers 503, not 500, when the idempotency store itself fails', async () => {
    faults.rules = [{ operation: 'PutItem', contains: 'IDEMPOTENCY#' }];
    const failed = await submit('store-down');
    expect(failed.status).toBe(503);
    expect(typeof failed.body.detail).toBe('string');
    faults.rules = [];
    const retried = await submit('store-down');
    expect(retried.status).toBe(202);
    expect(await statusOf(retried.body.celery_task_id)).toBe(200);
  });
});

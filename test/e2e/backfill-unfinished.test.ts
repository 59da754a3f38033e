import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient, tableName, UNFINISHED_INDEX } from '../../functions/core/store/dynamo.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { backfillUnfinished } from '../../infra/ops/backfill-unfinished.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * `npm run ops:backfill-unfinished`: tasks written before the `unfinished` index existed carry no
 * mark, so the scheduled reconciler cannot see them; the backfill marks the pending and processing
 * ones (never a finished one), after which the reconciler finds and finishes them. Against the
 * embedded DynamoDB of a local stack, with the reconciler's deadlines at 0.
 */

const TENANT = 'development_tenant';
let stack: TestStack;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack({
    env: { STUCK_PENDING_SECONDS: '0', STUCK_PROCESSING_SECONDS: '0', STUCK_ROWS_SECONDS: '0' },
  });
});

afterAll(async () => {
  await stack.runner.idle();
  await stack.stop();
});

function key(jobId: string) {
  return { pk: { S: `TENANT#${TENANT}` }, sk: { S: `TASK#${jobId}` } };
}

/** A task as the submit path writes it, then stripped of its mark as if written before the index. */
async function oldTask(): Promise<TaskRef> {
  counter += 1;
  const ref: TaskRef = {
    tenant_id: TENANT,
    job_id: `backfill-${counter}-${Date.now()}`,
    client_task_id: `backfill-${counter}`,
    operation: 'text-to-image',
    provider: 'openai',
    params: { task_id: `backfill-${counter}`, provider: 'openai', prompt: 'a chair' },
  };
  expect(await taskRepository.create(ref)).toBe(true);
  await dynamoClient().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: key(ref.job_id),
      UpdateExpression: 'REMOVE #unfinished',
      ExpressionAttributeNames: { '#unfinished': UNFINISHED_INDEX.partitionKey },
    }),
  );
  return ref;
}

async function markOf(jobId: string): Promise<string | undefined> {
  const { Item } = await dynamoClient().send(
    new GetItemCommand({ TableName: tableName(), Key: key(jobId), ConsistentRead: true }),
  );
  return Item?.[UNFINISHED_INDEX.partitionKey]?.S;
}

describe('npm run ops:backfill-unfinished', () => {
  it('marks unmarked pending and processing tasks (not finished ones), so the reconciler finishes them', async () => {
    const pending = await oldTask();
    const processing = await oldTask();
    expect(await taskRepository.markProcessing(processing.tenant_id, processing.job_id)).toBe(true);
    const finished = await oldTask();
    expect(await taskRepository.markProcessing(finished.tenant_id, finished.job_id)).toBe(true);
    expect(await taskRepository.markFailed(finished.tenant_id, finished.job_id, 'test', 'internal')).toBe(
      true,
    );

    // Unmarked, they are invisible to the reconciler.
    const before = await stack.reconcileNow();
    const seen = before.items.map((item) => item.job_id);
    expect(seen).not.toContain(pending.job_id);
    expect(seen).not.toContain(processing.job_id);

    const lines: string[] = [];
    const dry = await backfillUnfinished(tableName(), { dryRun: true, log: (line) => lines.push(line) });
    expect(dry).toEqual({ found: 2, marked: 0 });
    expect(await markOf(pending.job_id)).toBeUndefined();

    const done = await backfillUnfinished(tableName(), { log: (line) => lines.push(line) });
    expect(done).toEqual({ found: 2, marked: 2 });
    expect(lines.at(-1)).toBe(
      `${tableName()}: 2 pending or processing task(s) without the unfinished mark, 2 marked (the others finished meanwhile)`,
    );
    expect(await markOf(pending.job_id)).toBe(UNFINISHED_INDEX.value);
    expect(await markOf(processing.job_id)).toBe(UNFINISHED_INDEX.value);
    expect(await markOf(finished.job_id)).toBeUndefined();

    // Run again: nothing left to mark.
    expect(await backfillUnfinished(tableName(), { log: () => {} })).toEqual({ found: 0, marked: 0 });

    const after = await stack.reconcileNow();
    const found = after.items.map((item) => item.job_id);
    expect(found).toContain(pending.job_id);
    expect(found).toContain(processing.job_id);
    expect((await stack.waitForTask(pending.job_id)).status).toBe('failed');
    expect((await stack.waitForTask(processing.job_id)).status).toBe('failed');
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient, tableName, UNFINISHED_INDEX } from '../../functions/core/store/dynamo.ts';
import { reconcileStuckTasks, STUCK_TASK_MESSAGE } from '../../functions/core/tasks/reconcile.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { type DynamoFaults, injectDynamoFaults } from '../support/dynamo-faults.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Nothing stays unfinished: the scheduled reconciler (run here with `reconcileNow()`, every
 * deadline at 0) finds tasks whose execution never started, tasks left `processing` without an
 * execution, and finished tasks whose Supabase rows were never brought up to date, and finishes
 * them, while a task whose execution is running is left alone. Faults are injected at the
 * network edges: the local Step Functions API (the runner's `apiFaults`), DynamoDB (the fault
 * proxy), the local Supabase REST routes (`/__tables/faults`), and OpenAI, reached through a gate
 * in front of its simulator that holds calls while a test needs an execution to stay running.
 */

const TENANT = 'development_tenant';
let stack: TestStack;
let faults: DynamoFaults;
let counter = 0;

/** The gate in front of the OpenAI simulator: passes calls through, or holds them until released. */
let gate: Server;
let holding = false;
const held: (() => void)[] = [];
let onHeld: (() => void) | undefined;

function passThrough(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(key))
      headers[key] = value;
  }
  fetch(`${stack.url}/__sandbox/openai${request.url ?? '/'}`, {
    method: request.method ?? 'POST',
    headers,
    ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
  })
    .then(async (answer) => {
      const answerHeaders: Record<string, string> = {};
      answer.headers.forEach((value, key) => {
        if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(key))
          answerHeaders[key] = value;
      });
      const bytes = Buffer.from(await answer.arrayBuffer());
      response.writeHead(answer.status, answerHeaders);
      response.end(bytes);
    })
    .catch(() => response.destroy());
}

beforeAll(async () => {
  gate = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const forward = () => passThrough(request, Buffer.concat(chunks), response);
      if (!holding) return forward();
      held.push(forward);
      onHeld?.();
    });
  });
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
  stack = await startTestStack({
    env: {
      STUCK_PENDING_SECONDS: '0',
      STUCK_PROCESSING_SECONDS: '0',
      STUCK_ROWS_SECONDS: '0',
      // A key of our own makes the stack keep this base URL instead of pointing at the simulator.
      OPENAI_API_KEY: 'sk-reconcile-gate',
      OPENAI_BASE_URL: `http://127.0.0.1:${(gate.address() as AddressInfo).port}/v1`,
    },
  });
  faults = await injectDynamoFaults();
});

afterEach(async () => {
  faults.rules = [];
  faults.failed.length = 0;
  onHeld = undefined;
  stack.runner.apiFaults.operations = [];
  await fetch(`${stack.url}/__tables/faults`, { method: 'DELETE' });
  holding = false;
  for (const release of held.splice(0)) release();
  await stack.runner.idle();
});

afterAll(async () => {
  await faults.close();
  await stack.stop();
  gate.closeAllConnections();
  await new Promise<void>((resolve) => gate.close(() => resolve()));
});

async function submit(): Promise<{ status: number; body: Record<string, unknown> }> {
  counter += 1;
  const response = await stack.call('/generation/text-to-image', {
    body: { task_id: `stuck-${counter}`, provider: 'openai', prompt: 'a lamp on a desk' },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function statusOf(jobId: string): Promise<Record<string, unknown>> {
  return (await (await stack.call(`/tasks/${jobId}/status`)).json()) as Record<string, unknown>;
}

async function rowsOf(jobId: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${stack.url}/rest/v1/concept_images?job_id=eq.${jobId}`);
  return (await response.json()) as Record<string, unknown>[];
}

/** The task's `unfinished` attribute as stored: `task` while it is in the index, else undefined. */
async function unfinishedMark(jobId: string): Promise<string | undefined> {
  const { Item } = await dynamoClient().send(
    new GetItemCommand({
      TableName: tableName(),
      Key: { pk: { S: `TENANT#${TENANT}` }, sk: { S: `TASK#${jobId}` } },
      ConsistentRead: true,
    }),
  );
  return Item?.[UNFINISHED_INDEX.partitionKey]?.S;
}

/** A task written the way the submit path writes it, without starting anything. */
async function writeTask(): Promise<TaskRef> {
  counter += 1;
  const ref: TaskRef = {
    tenant_id: TENANT,
    job_id: `stuck-direct-${counter}-${Date.now()}`,
    client_task_id: `stuck-direct-${counter}`,
    operation: 'text-to-image',
    provider: 'openai',
    params: { task_id: `stuck-direct-${counter}`, provider: 'openai', prompt: 'a chair' },
  };
  expect(await taskRepository.create(ref)).toBe(true);
  return ref;
}

async function tableFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.url}/__tables/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(response.status).toBe(201);
}

describe('a task whose execution never started', () => {
  it('is failed internal by the reconciler, not started, when StartExecution and marking it failed both failed', async () => {
    stack.runner.apiFaults.operations = ['StartExecution'];
    faults.rules = [{ operation: 'UpdateItem', contains: '"TASK#' }];
    const failed = await submit();
    expect(failed.status).toBe(503);
    expect(failed.body.detail).toBe('The task could not be started; please retry shortly');
    expect(stack.runner.apiFaults.failed).toBeGreaterThan(0);
    // The job id is in the failed write's key (the 503 answer names no job: none was started).
    const markFailed = faults.failed.find((request) => request.operation === 'UpdateItem');
    const jobId = /"TASK#([^"]+)"/.exec(markFailed?.body ?? '')?.[1] ?? '';
    expect(jobId).not.toBe('');

    stack.runner.apiFaults.operations = [];
    faults.rules = [];
    expect((await statusOf(jobId)).status).toBe('pending');
    expect(await unfinishedMark(jobId)).toBe(UNFINISHED_INDEX.value);

    // The client got a 503 and submits again: starting this job now could pay twice.
    const report = await stack.reconcileNow();
    expect(report.items).toContainEqual({ job_id: jobId, kind: 'pending_task', outcome: 'failed' });
    const done = await stack.waitForTask(jobId);
    expect(done).toMatchObject({ status: 'failed', error_code: 'internal' });
    expect(done.error).toBe('The task could not be started; submit it again');
    const [row] = await rowsOf(jobId);
    expect(row?.status).toBe('failed');
    expect(await unfinishedMark(jobId)).toBeUndefined();

    // Done: the next run does not see it.
    expect((await stack.reconcileNow()).items.map((item) => item.job_id)).not.toContain(jobId);
  });

  it('is failed internal when an execution of its name exists and has ended', async () => {
    const ref = await writeTask();
    // An execution of that name that ended without touching the task (its input is no task).
    const execution = stack.runner.start(ref.job_id, '{}');
    await execution.done;
    expect(execution.status).toBe('FAILED');
    expect((await statusOf(ref.job_id)).status).toBe('pending');

    const report = await stack.reconcileNow();
    expect(report.items).toContainEqual({ job_id: ref.job_id, kind: 'pending_task', outcome: 'failed' });
    const status = await statusOf(ref.job_id);
    expect(status).toMatchObject({ status: 'failed', error: STUCK_TASK_MESSAGE, error_code: 'internal' });
    const [row] = await rowsOf(ref.job_id);
    expect(row).toMatchObject({ status: 'failed', error: STUCK_TASK_MESSAGE });
    expect(await unfinishedMark(ref.job_id)).toBeUndefined();
  });
});

describe('a task left processing', () => {
  it('whose execution is gone is failed internal, and its rows say so', async () => {
    const ref = await writeTask();
    expect(await taskRepository.markProcessing(ref.tenant_id, ref.job_id)).toBe(true);
    expect(stack.runner.executions.has(ref.job_id)).toBe(false);

    const report = await stack.reconcileNow();
    expect(report.items).toContainEqual({ job_id: ref.job_id, kind: 'processing_task', outcome: 'failed' });
    expect(await statusOf(ref.job_id)).toMatchObject({
      status: 'failed',
      error: STUCK_TASK_MESSAGE,
      error_code: 'internal',
    });
    const [row] = await rowsOf(ref.job_id);
    expect(row).toMatchObject({ status: 'failed', error: STUCK_TASK_MESSAGE });
    expect(await unfinishedMark(ref.job_id)).toBeUndefined();
  });

  it('whose execution is running is left alone, and finishes on its own', async () => {
    holding = true;
    const providerCalled = new Promise<void>((resolve) => {
      onHeld = resolve;
    });
    const accepted = await submit();
    expect(accepted.status).toBe(202);
    const jobId = String(accepted.body.celery_task_id);
    // The execution is inside RunProvider, waiting on the held OpenAI call.
    await providerCalled;
    expect(stack.runner.executions.get(jobId)?.status).toBe('RUNNING');
    expect((await statusOf(jobId)).status).toBe('processing');
    expect(await unfinishedMark(jobId)).toBe(UNFINISHED_INDEX.value);

    const report = await stack.reconcileNow();
    expect(report.items).toContainEqual({ job_id: jobId, kind: 'processing_task', outcome: 'left' });
    expect((await statusOf(jobId)).status).toBe('processing');

    holding = false;
    for (const release of held.splice(0)) release();
    const done = await stack.waitForTask(jobId);
    expect(done.status).toBe('complete');
    // The mark goes with RecordResultRows, the step after the status turns complete.
    await stack.runner.idle();
    expect(await unfinishedMark(jobId)).toBeUndefined();
  });
});

describe('rows whose final write kept failing', () => {
  it('are written again once Supabase answers, and the task leaves the index', async () => {
    // Every upsert fails: the pending and processing mirrors, and RecordResultRows with its retries.
    await tableFault({ status: 503, times: 1000 });
    const accepted = await submit();
    expect(accepted.status).toBe(202);
    const jobId = String(accepted.body.celery_task_id);
    await stack.runner.executions.get(jobId)?.done;
    expect(stack.runner.executions.get(jobId)?.states).toContain('RecordResultRows');
    expect((await statusOf(jobId)).status).toBe('complete');
    expect(await rowsOf(jobId)).toEqual([]);
    expect(await unfinishedMark(jobId)).toBe(UNFINISHED_INDEX.value);

    // Still failing: left for the next run, still in the index.
    const whileDown = await stack.reconcileNow();
    expect(whileDown.items).toContainEqual({ job_id: jobId, kind: 'rows', outcome: 'error' });
    expect(await unfinishedMark(jobId)).toBe(UNFINISHED_INDEX.value);

    await fetch(`${stack.url}/__tables/faults`, { method: 'DELETE' });
    const report = await stack.reconcileNow();
    expect(report.items).toContainEqual({ job_id: jobId, kind: 'rows', outcome: 'recorded' });
    const [row] = await rowsOf(jobId);
    expect(row?.status).toBe('complete');
    expect(String(row?.asset_url)).toMatch(/^http:\/\/localhost:\d+\/storage\/v1\/object\/public\//);
    expect(await unfinishedMark(jobId)).toBeUndefined();
    expect((await stack.reconcileNow()).items.map((item) => item.job_id)).not.toContain(jobId);
  });
});

describe('a run', () => {
  it('is bounded: at most maxItems tasks, oldest first, and none once its time is up', async () => {
    const newer = await writeTask();
    const older = await writeTask();
    // Written in the same millisecond or not, `older` is the older one by its last change.
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: { pk: { S: `TENANT#${TENANT}` }, sk: { S: `TASK#${older.job_id}` } },
        UpdateExpression: 'SET updated_at = :old',
        ExpressionAttributeValues: { ':old': { S: new Date(Date.now() - 3_600_000).toISOString() } },
      }),
    );
    const plenty = () => 600_000;

    const first = await reconcileStuckTasks({ timeLeftMs: plenty, maxItems: 1 });
    expect(first).toEqual({
      items: [{ job_id: older.job_id, kind: 'pending_task', outcome: 'failed' }],
      truncated: true,
    });
    expect(await reconcileStuckTasks({ timeLeftMs: () => 0 })).toEqual({ items: [], truncated: true });
    expect((await statusOf(newer.job_id)).status).toBe('pending');

    const rest = await stack.reconcileNow();
    expect(rest.items).toContainEqual({ job_id: newer.job_id, kind: 'pending_task', outcome: 'failed' });
    expect((await stack.waitForTask(older.job_id)).status).toBe('failed');
    expect((await stack.waitForTask(newer.job_id)).status).toBe('failed');
  });
});

describe('the local Supabase REST fault route', () => {
  it('refuses a fault it cannot apply, naming the field', async () => {
    const answer = async (body: unknown) => {
      const response = await fetch(`${stack.url}/__tables/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as { detail: string } };
    };
    expect(await answer({ status: 200 })).toEqual({
      status: 400,
      body: { detail: 'status must be an HTTP error status between 400 and 599' },
    });
    expect(await answer({ times: 0 })).toEqual({
      status: 400,
      body: { detail: 'times must be an integer >= 1' },
    });
    expect(await answer({ stall: true })).toEqual({
      status: 400,
      body: { detail: 'Unknown field stall; allowed: status, times, table' },
    });
  });
});

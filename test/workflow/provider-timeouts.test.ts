import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Provider timeouts through the real ASL: a stack whose provider HTTP timeout is short, so a
 * `timeout` fault (the simulator never answers) becomes ProviderTimeoutError quickly. Kept apart
 * from the other workflow tests so those keep a generous timeout on a busy machine.
 */

let stack: TestStack;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack({ env: { PROVIDER_TIMEOUT_SECONDS: '4' } });
});

afterAll(async () => {
  await stack.stop();
});

async function runTask(operation: 'text-to-image') {
  counter += 1;
  const jobId = `timeout-${counter}-${Date.now()}`;
  const ref: TaskRef = {
    tenant_id: 'development_tenant',
    job_id: jobId,
    client_task_id: `to-${counter}`,
    operation,
    provider: 'openai',
    params: {
      task_id: `to-${counter}`,
      provider: 'openai',
      prompt: `a timeout test ${counter}`,
      n: 1,
    },
  };
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(jobId, JSON.stringify(ref));
  await execution.done;
  return { execution, task: await taskRepository.get('development_tenant', jobId) };
}

describe('provider timeouts', () => {
  it('retries a provider timeout and then succeeds', async () => {
    await stack.fault('openai', { timeout: true, times: 1 });
    const { task } = await runTask('text-to-image');
    expect(task?.status).toBe('complete');
  });

  it('fails with provider_timeout when every attempt times out', async () => {
    await stack.fault('openai', { timeout: true, times: 4 });
    const { task } = await runTask('text-to-image');
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_timeout' });
    expect(task?.error).toMatch(/timed out/);
  });

  it('shows processing while the provider works, then the result', async () => {
    await stack.fault('openai', { timeout: true, times: 1 });
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'slow-1', provider: 'openai', prompt: 'slow' },
    });
    const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
    const seen: string[] = [];
    for (let attempt = 0; attempt < 6000; attempt++) {
      const status = (await (await stack.call(`/tasks/${jobId}/status`)).json()) as { status: string };
      if (seen.at(-1) !== status.status) seen.push(status.status);
      if (status.status === 'complete' || status.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The first attempt hangs for the whole provider timeout, so processing is surely observed.
    expect(seen.slice(-2)).toEqual(['processing', 'complete']);
  });
});

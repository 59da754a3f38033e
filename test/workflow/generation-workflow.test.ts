import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { handler as reconcileExecution } from '../../functions/workflow/reconcile-execution.ts';
import { LocalExecutionRunner } from '../../infra/local/execution-runner.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The real state-machines/generation.asl.json, run by aws-local-stepfunctions with every Task
 * bound to the deployed handlers, against DynamoDB (dynalite), local Storage and the OpenAI
 * simulator over HTTP.
 */

let stack: TestStack;
let inputUrl: string;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack();
  inputUrl = await stack.upload('uploads/workflow/input.png', await samplePng(128, 128), 'image/png');
});

afterAll(async () => {
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/openai/faults`, { method: 'DELETE' });
});

async function runTask(operation: 'text-to-image' | 'image-to-image', extra: Record<string, unknown> = {}) {
  counter += 1;
  const jobId = `workflow-${counter}-${Date.now()}`;
  const params: Record<string, unknown> =
    operation === 'text-to-image'
      ? {
          task_id: `wf-${counter}`,
          provider: 'openai',
          prompt: `a workflow test ${counter}`,
          n: 1,
          ...extra,
        }
      : {
          task_id: `wf-${counter}`,
          provider: 'openai',
          prompt: `an edit ${counter}`,
          input_image_asset_url: inputUrl,
          n: 1,
          ...extra,
        };
  const ref: TaskRef = {
    tenant_id: 'development_tenant',
    job_id: jobId,
    client_task_id: String(params.task_id),
    operation,
    provider: 'openai',
    params,
  };
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(jobId, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get('development_tenant', jobId);
  const requests = (await stack.sandboxRequests('openai')).filter((request) =>
    request.path.startsWith('/v1/images'),
  );
  return { execution, task, ref, requests };
}

describe('generation workflow', () => {
  it('completes a synchronous provider call and stores the result', async () => {
    const { execution, task } = await runTask('image-to-image');
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(task?.assets).toHaveLength(1);
    expect(task?.assets?.[0]?.path).toMatch(/^development_tenant\/wf-\d+\/workflow-\d+-\d+\/0\.png$/);
    expect(task?.started_at).toBeDefined();
    const stored = await fetch(
      `${stack.url}/storage/v1/object/public/makeit3d-app-assets/${task?.assets?.[0]?.path}`,
    );
    expect(stored.status).toBe(200);
  });

  it('runs a synchronous provider through MarkTaskProcessing, RunProvider, CompleteTask and the rows', async () => {
    const { execution } = await runTask('text-to-image');
    expect(execution.states).toEqual([
      'PrepareTask',
      'MarkTaskProcessing',
      'ChooseExecutionMode',
      'RunProvider',
      'CompleteTask',
      'RecordResultRows',
      'TaskSucceeded',
    ]);
  });

  it('runs downscale in the ProcessImage state, not RunProvider', async () => {
    counter += 1;
    const ref: TaskRef = {
      tenant_id: 'development_tenant',
      job_id: `downscale-${counter}`,
      client_task_id: 'downscale',
      operation: 'downscale',
      provider: 'bff',
      params: {
        task_id: 'downscale',
        provider: 'bff',
        input_image_asset_url: inputUrl,
        max_size_mb: 0.1,
        aspect_ratio_mode: 'square',
        output_format: 'png',
      },
    };
    await taskRepository.create(ref);
    const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
    await execution.done;
    expect(execution.states).toContain('ProcessImage');
    expect(execution.states).not.toContain('RunProvider');
    const task = await taskRepository.get(ref.tenant_id, ref.job_id);
    expect(task?.error ?? '').toBe('');
    expect(task?.status).toBe('complete');
    expect(task?.result_metadata?.facts).toMatchObject({ final_format: 'png' });
  });

  it('ends a failed task in FailTask, RecordFailedRows and the TaskFailed state', async () => {
    await stack.fault('openai', { status: 400, times: 1 });
    const { execution } = await runTask('text-to-image');
    expect(execution.states.slice(-3)).toEqual(['FailTask', 'RecordFailedRows', 'TaskFailed']);
  });

  it('retries a provider 500 and then succeeds', async () => {
    await stack.fault('openai', { status: 500, times: 1 });
    const before = (await stack.sandboxRequests('openai')).length;
    const { execution, task } = await runTask('text-to-image');
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect((await stack.sandboxRequests('openai')).length - before).toBe(2);
  });

  it('retries a provider 429 and then succeeds', async () => {
    await stack.fault('openai', { status: 429, times: 2 });
    const { task } = await runTask('text-to-image');
    expect(task?.status).toBe('complete');
  });

  it('fails with provider_unavailable once the retries are spent', async () => {
    await stack.fault('openai', { status: 503, times: 10 });
    const before = (await stack.sandboxRequests('openai')).length;
    const { execution, task } = await runTask('text-to-image');
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('provider_unavailable');
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(task?.error).toMatch(/OpenAI is unavailable \(HTTP 503.*retrying may help/);
    // One attempt plus the three retries of the ASL's Retry block.
    expect((await stack.sandboxRequests('openai')).length - before).toBe(4);
  });

  it('fails a provider 400 at once with a clear error', async () => {
    await stack.fault('openai', { status: 400, times: 1 });
    const before = (await stack.sandboxRequests('openai')).length;
    const { task } = await runTask('text-to-image');
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toMatch(/^OpenAI rejected the request \(HTTP 400\).*retrying will not help$/);
    expect((await stack.sandboxRequests('openai')).length - before).toBe(1);
  });

  it('fails a content-policy refusal as content_moderated', async () => {
    await stack.fault('openai', { moderated: true, times: 1 });
    const { task } = await runTask('image-to-image');
    expect(task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
    expect(task?.error).toMatch(/content policy/);
  });

  it('fails a missing input as input_not_found without calling the provider', async () => {
    const before = (await stack.sandboxRequests('openai')).length;
    const { task } = await runTask('image-to-image', {
      input_image_asset_url: `${stack.url}/storage/v1/object/public/makeit3d-app-assets/uploads/absent.png`,
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_not_found' });
    expect((await stack.sandboxRequests('openai')).length).toBe(before);
  });

  it('never turns a complete task into a failed one', async () => {
    const { task, ref } = await runTask('text-to-image');
    expect(task?.status).toBe('complete');
    expect(await taskRepository.markFailed(ref.tenant_id, ref.job_id, 'late failure', 'internal')).toBe(
      false,
    );
    await reconcileExecution({ detail: { status: 'FAILED', name: ref.job_id, input: JSON.stringify(ref) } });
    expect((await taskRepository.get(ref.tenant_id, ref.job_id))?.status).toBe('complete');
  });

  it('fails a task whose execution ended without finishing it', async () => {
    counter += 1;
    const ref: TaskRef = {
      tenant_id: 'development_tenant',
      job_id: `orphan-${counter}`,
      client_task_id: 'orphan',
      operation: 'text-to-image',
      provider: 'openai',
      params: { task_id: 'orphan', provider: 'openai', prompt: 'x', n: 1 },
    };
    await taskRepository.create(ref);
    await taskRepository.markProcessing(ref.tenant_id, ref.job_id);
    await reconcileExecution({
      detail: { status: 'TIMED_OUT', name: ref.job_id, input: JSON.stringify(ref) },
    });
    expect(await taskRepository.get(ref.tenant_id, ref.job_id)).toMatchObject({
      status: 'failed',
      error_code: 'provider_timeout',
    });
  });
});

describe('local runner', () => {
  it('refuses a definition with a Task that has no local binding', () => {
    type Handlers = ConstructorParameters<typeof LocalExecutionRunner>[0]['handlers'];
    const handlers: Partial<Handlers> = {};
    for (const name of Object.values(WORKFLOW_FUNCTIONS)) {
      if (name !== 'run-provider') handlers[name] = async () => ({});
    }
    expect(
      () =>
        new LocalExecutionRunner({
          definitionFile: 'state-machines/generation.asl.json',
          handlers: handlers as Handlers,
          waitMs: 0,
          onExecutionFailed: async () => undefined,
        }),
    ).toThrow(/RunProvider .* has no local binding/);
  });
});

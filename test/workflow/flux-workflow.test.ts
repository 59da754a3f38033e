import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import {
  errorCodeFor,
  JobDeadlineExceededError,
  ProviderRejectedError,
  ProviderTimeoutError,
} from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { pollProviderJob, submitProviderJob } from '../../functions/core/workflow/async-jobs.ts';
import { failTask } from '../../functions/core/workflow/finish.ts';
import type { ProviderJob } from '../../functions/core/workflow/step-io.ts';
import {
  fluxSandboxSettings,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { PNG_SIGNATURE, samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Flux (BFL Kontext) through the real state-machines/generation.asl.json: SubmitProviderJob →
 * Wait → PollProviderJob → IsProviderJobDone, with every Task bound to the deployed handlers,
 * against DynamoDB (dynalite), local Storage and the BFL simulator over HTTP.
 */

const TENANT = 'development_tenant';
const BUCKET = 'makeit3d-app-assets';
let stack: TestStack;
let inputUrl: string;
let inputBytes: Buffer;
let counter = 0;
const outputScaleBefore = fluxSandboxSettings.outputScale;
const pendingPollsBefore = fluxSandboxSettings.pendingPolls;

beforeAll(async () => {
  stack = await startTestStack({ env: { PROVIDER_TIMEOUT_SECONDS: '15' } });
  inputBytes = await samplePng(96, 64);
  inputUrl = await stack.upload('uploads/flux-workflow/input.png', inputBytes, 'image/png');
  // Small results keep encoding fast; the adapter does not depend on the size.
  fluxSandboxSettings.outputScale = 0.25;
});

afterAll(async () => {
  fluxSandboxSettings.outputScale = outputScaleBefore;
  setFluxPendingPolls(pendingPollsBefore);
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/flux/faults`, { method: 'DELETE' });
  resetFluxSandbox();
  setFluxPendingPolls(2);
});

function taskRef(extra: Record<string, unknown> = {}): TaskRef {
  counter += 1;
  const { params, clientTaskId } = validateGeneration('image-to-image', {
    task_id: `flux-wf-${counter}`,
    provider: 'flux',
    prompt: `turn it into a watercolour ${counter}`,
    input_image_asset_url: inputUrl,
    ...extra,
  });
  return {
    tenant_id: TENANT,
    job_id: `flux-workflow-${counter}-${Date.now()}`,
    client_task_id: clientTaskId,
    operation: 'image-to-image',
    provider: 'flux',
    params,
  };
}

async function fluxRequests(kind: 'create' | 'poll') {
  const requests = await stack.sandboxRequests('flux');
  return requests.filter((request) =>
    kind === 'create' ? request.path.startsWith('/v1/flux-kontext-') : request.path === '/v1/get_result',
  );
}

async function runTask(extra: Record<string, unknown> = {}) {
  const ref = taskRef(extra);
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get(TENANT, ref.job_id);
  return { execution, task, ref };
}

/** A task as the ASL leaves it before SubmitProviderJob, for driving the steps one by one. */
async function processingTask(extra: Record<string, unknown> = {}): Promise<TaskRef> {
  const ref = taskRef(extra);
  await taskRepository.create(ref);
  await taskRepository.markProcessing(TENANT, ref.job_id);
  return ref;
}

async function storedObject(path: string | undefined): Promise<Buffer> {
  const response = await fetch(`${stack.url}/storage/v1/object/public/${BUCKET}/${path}`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

describe('Flux workflow', () => {
  it('polls through several Pending answers, then stores the PNG at once', async () => {
    setFluxPendingPolls(3);
    const { execution, task, ref } = await runTask({ aspect_ratio: '16:9', seed: 7 });
    expect(execution.status).toBe('SUCCEEDED');
    expect(task).toMatchObject({ status: 'complete', progress: 100 });
    expect(task?.assets).toHaveLength(1);
    const asset = task?.assets?.[0];
    expect(asset?.content_type).toBe('image/png');
    expect(asset?.path).toBe(`${TENANT}/${ref.client_task_id}/${ref.job_id}/0.png`);
    const stored = await storedObject(asset?.path);
    expect(stored.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(asset?.bytes).toBe(stored.length);

    // Three Pending polls and the Ready one; one create with exactly the documented fields.
    expect(await fluxRequests('poll')).toHaveLength(4);
    const [create] = await fluxRequests('create');
    expect(create?.path).toBe('/v1/flux-kontext-pro');
    expect(create?.fields).toEqual({
      prompt: ref.params.prompt,
      input_image: inputBytes.toString('base64'),
      aspect_ratio: '16:9',
      output_format: 'png',
      safety_tolerance: 2,
      prompt_upsampling: false,
      seed: 7,
    });

    // The id on the task is BFL's: the simulator knows it under our key.
    const bflId = task?.ai_service_task_id ?? '';
    expect(bflId).toMatch(/^[0-9a-f-]{36}$/);
    const lookup = await fetch(`${stack.url}/__sandbox/flux/v1/get_result?id=${bflId}`, {
      headers: { 'x-key': 'sandbox' },
    });
    expect(await lookup.json()).toMatchObject({ id: bflId, status: 'Ready' });
    expect(task?.result_metadata).toMatchObject({
      sent: { endpoint: '/v1/flux-kontext-pro', aspect_ratio: '16:9', seed_used: 7 },
    });
  });

  it('stores a JPEG from Kontext [max] when jpeg is asked for', async () => {
    setFluxPendingPolls(1);
    const { task, ref } = await runTask({ output_format: 'jpeg', model: 'flux-kontext-max' });
    expect(task?.status).toBe('complete');
    const asset = task?.assets?.[0];
    expect(asset?.content_type).toBe('image/jpeg');
    expect(asset?.path).toBe(`${TENANT}/${ref.client_task_id}/${ref.job_id}/0.jpg`);
    const stored = await storedObject(asset?.path);
    expect([...stored.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const [create] = await fluxRequests('create');
    expect(create?.path).toBe('/v1/flux-kontext-max');
    // No aspect_ratio chosen, none sent: the output follows the input's proportions.
    expect(create?.fields).not.toHaveProperty('aspect_ratio');
    expect(create?.fields).toMatchObject({ output_format: 'jpeg' });
  });

  it('records rising progress while BFL reports Pending', async () => {
    setFluxPendingPolls(3);
    const ref = await processingTask();
    let job: ProviderJob = await submitProviderJob(ref);
    expect((await taskRepository.get(TENANT, ref.job_id))?.ai_service_task_id).toBe(job.provider_job_id);
    expect(job.state).toMatchObject({ id: job.provider_job_id, output_format: 'png' });
    const seen: (number | undefined)[] = [];
    for (let poll = 0; poll < 3; poll++) {
      job = await pollProviderJob(ref, job);
      // Progress this early promises a quick finish, but BFL is never polled more often than every 2 s.
      expect(job).toMatchObject({ status: 'pending', wait_seconds: fluxPolling.minWaitSeconds });
      seen.push((await taskRepository.get(TENANT, ref.job_id))?.progress);
    }
    // BFL's 0.25, 0.5, 0.75 as percentages, each above the last and below 100.
    expect(seen).toEqual([25, 50, 75]);
    job = await pollProviderJob(ref, job);
    expect(job.status).toBe('done');
    expect(job.result?.assets[0]?.content_type).toBe('image/png');
  });

  it.each([
    ['Request Moderated', 'content_moderated', /Request Moderated: the prompt or input image was flagged/],
    ['Content Moderated', 'content_moderated', /Content Moderated: the generated image was flagged/],
    [
      'Error',
      'provider_rejected',
      /failed while generating the image \(BFL status "Error": Generation failed \(sandbox fault\)\.\)/,
    ],
    ['Task not found', 'provider_rejected', /was not found or has expired \(BFL status "Task not found"\)/],
  ])('fails a %s task as %s with a message that says which', async (outcome, errorCode, message) => {
    await stack.fault('flux', { outcome });
    const { execution, task } = await runTask();
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(errorCode);
    expect(task).toMatchObject({ status: 'failed', error_code: errorCode });
    expect(task?.error).toMatch(message);
    if (errorCode === 'content_moderated') expect(task?.error).toMatch(/content policy/);
    expect(task?.assets).toBeUndefined();
    // Terminal at BFL: no retry of the poll and no second create.
    expect(await fluxRequests('create')).toHaveLength(1);
    const polls = await fluxRequests('poll');
    expect(polls).toHaveLength(outcome === 'Request Moderated' || outcome === 'Task not found' ? 1 : 3);
  });

  it('retries a 503 on create (BFL declined it), then succeeds', async () => {
    await stack.fault('flux', { status: 503, times: 1 });
    const { task } = await runTask();
    expect(task?.status).toBe('complete');
    expect(await fluxRequests('create')).toHaveLength(2);
  });

  it('does not send a create again after a 500: BFL may have made the job, a second could bill twice', async () => {
    await stack.fault('flux', { status: 500, times: 1 });
    const { task } = await runTask();
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(task?.error).toMatch(/may or may not have created the job.*never paid twice/);
    expect(await fluxRequests('create')).toHaveLength(1);
  });

  it('does not retry a 402 (no credits) on create', async () => {
    await stack.fault('flux', { status: 402, times: 1 });
    const { task } = await runTask();
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toMatch(/HTTP 402\): Insufficient credits.*retrying will not help/);
    expect(await fluxRequests('create')).toHaveLength(1);
  });

  it('retries a 429 on poll, then succeeds', async () => {
    setFluxPendingPolls(1);
    // The create takes a no-op fault (the default outcome), so the 429s land on the polls.
    await stack.fault('flux', { outcome: 'Ready', times: 1 });
    await stack.fault('flux', { status: 429, times: 2 });
    const { task } = await runTask();
    expect(task?.status).toBe('complete');
    expect(await fluxRequests('create')).toHaveLength(1);
    // Two refused polls, then Pending and Ready.
    expect(await fluxRequests('poll')).toHaveLength(4);
  });

  it('fails an input that is not an image before calling BFL', async () => {
    const textUrl = await stack.upload('uploads/flux-workflow/notes.txt', Buffer.from('hello'), 'text/plain');
    const { task } = await runTask({ input_image_asset_url: textUrl });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toMatch(/PNG, JPEG or WebP/);
    expect(await stack.sandboxRequests('flux')).toHaveLength(0);
  });

  it('fails a job still Pending after its deadline as timed out', async () => {
    setFluxPendingPolls(5);
    const ref = await processingTask();
    const job = await submitProviderJob(ref);
    // The operation's own deadline, not the 30-minute default.
    const minutes = (Date.parse(job.deadline) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(9.9);
    expect(minutes).toBeLessThanOrEqual(10);
    const expired = { ...job, deadline: new Date(Date.now() - 1000).toISOString() };
    const error = await pollProviderJob(ref, expired).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobDeadlineExceededError);
    const failure = error as JobDeadlineExceededError;
    expect(failure.message).toMatch(/did not finish within 10 minutes \(timed out\)/);
    expect(errorCodeFor(failure.name)).toBe('provider_timeout');
    // What the ASL's Catch → FailTask does with it.
    await failTask(ref, { Error: failure.name, Cause: failure.message });
    expect(await taskRepository.get(TENANT, ref.job_id)).toMatchObject({
      status: 'failed',
      error_code: 'provider_timeout',
      error: expect.stringMatching(/timed out/),
    });
  });
});

describe('Flux polling URL', () => {
  let decoy: Server;
  let decoyUrl: string;
  const decoyHits: { url: string | undefined; key: string | undefined }[] = [];

  beforeAll(async () => {
    // A server that answers like BFL would: if the adapter ever polled it, the key would leak.
    decoy = createServer((request, response) => {
      decoyHits.push({ url: request.url, key: request.headers['x-key'] as string | undefined });
      // Never answers, like a BFL cluster that accepted the connection and stalled.
      if (request.url?.startsWith('/hang')) return;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 'x', status: 'Queued', progress: null, result: null }));
    });
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
    decoyUrl = `http://127.0.0.1:${(decoy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    decoy.closeAllConnections();
    await new Promise<void>((resolve) => decoy.close(() => resolve()));
  });

  /** Runs `work` with the decoy configured as BFL itself (its origin is then trusted). */
  async function withDecoyAsBfl<T>(env: Record<string, string>, work: () => Promise<T>): Promise<T> {
    const saved = {
      BFL_BASE_URL: process.env.BFL_BASE_URL,
      ...Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]])),
    };
    Object.assign(process.env, { BFL_BASE_URL: decoyUrl, ...env });
    resetConfig();
    try {
      return await work();
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      resetConfig();
    }
  }

  afterEach(() => {
    decoyHits.length = 0;
  });

  it.each([() => `${decoyUrl}/v1/get_result?id=abc`, () => 'https://attacker.example/v1/get_result?id=abc'])(
    'refuses an untrusted polling_url without sending the key (%#)',
    async (pollingUrl) => {
      const ref = await processingTask();
      const job = await submitProviderJob(ref);
      const tampered = { ...job, state: { ...job.state, polling_url: pollingUrl() } };
      const error = await pollProviderJob(ref, tampered).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderRejectedError);
      expect((error as Error).message).toMatch(/polling URL outside BFL .*not polled/);
      expect(decoyHits).toHaveLength(0);
    },
  );

  it('keeps polling an unknown status with growing waits until the deadline', async () => {
    const ref = await processingTask();
    const job = await submitProviderJob(ref);
    // The decoy invents a status BFL does not document.
    await withDecoyAsBfl({}, async () => {
      // Submitted a minute ago (past Kontext's typical duration), last wait 5 s: no progress, so
      // each wait is half as long again as the last.
      const polled = {
        ...job,
        wait_seconds: 5,
        started_at: new Date(Date.now() - 60_000).toISOString(),
        state: { ...job.state, polling_url: `${decoyUrl}/v1/get_result?id=abc` },
      };
      const first = await pollProviderJob(ref, polled);
      expect(first).toMatchObject({ status: 'pending', wait_seconds: 8 });
      const second = await pollProviderJob(ref, first);
      expect(second).toMatchObject({ status: 'pending', wait_seconds: 12 });
      expect(decoyHits).toEqual([
        { url: '/v1/get_result?id=abc', key: 'sandbox' },
        { url: '/v1/get_result?id=abc', key: 'sandbox' },
      ]);
      const late = { ...second, deadline: new Date(Date.now() - 1000).toISOString() };
      await expect(pollProviderJob(ref, late)).rejects.toBeInstanceOf(JobDeadlineExceededError);
    });
  });

  it('turns a poll that never answers into a retryable timeout', async () => {
    const ref = await processingTask();
    const job = await submitProviderJob(ref);
    await withDecoyAsBfl({ PROVIDER_TIMEOUT_SECONDS: '1' }, async () => {
      const stalled = { ...job, state: { ...job.state, polling_url: `${decoyUrl}/hang?id=abc` } };
      const error = await pollProviderJob(ref, stalled).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderTimeoutError);
      expect((error as ProviderTimeoutError).retryable).toBe(true);
      expect((error as Error).message).toMatch(/timed out after 1 s/);
    });
  });
});

describe('resuming a submitted job', () => {
  it('polls the job already recorded on the task instead of creating a second one', async () => {
    const ref = await processingTask();
    const before = (await fluxRequests('create')).length;
    const first = await submitProviderJob(ref);
    const again = await submitProviderJob(ref);
    expect((await fluxRequests('create')).length - before).toBe(1);
    expect(again.provider_job_id).toBe(first.provider_job_id);
    expect(again.state).toEqual(first.state);
    expect((await taskRepository.get(TENANT, ref.job_id))?.provider_state).toEqual(first.state);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { errorCodeFor, JobDeadlineExceededError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { type ProviderJob, pollProviderJob, submitProviderJob } from '../../functions/core/workflow/steps.ts';
import { resetTripoSandbox, setTripoTimeline } from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Tripo through the real state-machines/generation.asl.json (SubmitProviderJob → Wait →
 * PollProviderJob → IsProviderJobDone), against DynamoDB (dynalite), local Storage and the Tripo
 * simulator over HTTP. The simulator rejects undocumented fields, so every success here also
 * proves the BFF sent only Tripo's own.
 */

const TENANT = 'development_tenant';
const BUCKET = 'makeit3d-app-assets';
let stack: TestStack;
let views: string[];
let counter = 0;

interface RecordedRequest {
  method: string;
  path: string;
  fields: Record<string, unknown>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

beforeAll(async () => {
  stack = await startTestStack();
  views = await Promise.all(
    ['front', 'left', 'back', 'right'].map(async (name, index) =>
      stack.upload(`uploads/tripo-workflow/${name}.png`, await samplePng(64, 64, index + 1), 'image/png'),
    ),
  );
});

afterAll(async () => {
  resetTripoSandbox();
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/tripo/faults`, { method: 'DELETE' });
  resetTripoSandbox();
  setTripoTimeline(1, 2);
});

function taskRef(operation: string, body: Record<string, unknown>): TaskRef {
  counter += 1;
  const { params, clientTaskId } = validateGeneration(operation, {
    task_id: `tripo-wf-${counter}`,
    provider: 'tripo',
    ...body,
  });
  return {
    tenant_id: TENANT,
    job_id: `tripo-workflow-${counter}-${Date.now()}`,
    client_task_id: clientTaskId,
    operation,
    provider: 'tripo',
    params,
  };
}

async function tripoRequests(): Promise<RecordedRequest[]> {
  return (await stack.sandboxRequests('tripo')) as unknown as RecordedRequest[];
}

async function creates(): Promise<RecordedRequest[]> {
  return (await tripoRequests()).filter(
    (request) => request.method === 'POST' && request.path.endsWith('/task'),
  );
}

async function runTask(operation: string, body: Record<string, unknown>) {
  const ref = taskRef(operation, body);
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get(TENANT, ref.job_id);
  return { execution, task, ref };
}

/** A task as the ASL leaves it before SubmitProviderJob, for driving the steps one by one. */
async function processingTask(operation: string, body: Record<string, unknown>): Promise<TaskRef> {
  const ref = taskRef(operation, body);
  await taskRepository.create(ref);
  await taskRepository.markProcessing(TENANT, ref.job_id);
  return ref;
}

async function storedGlb(path: string | undefined): Promise<Buffer> {
  const response = await fetch(`${stack.url}/storage/v1/object/public/${BUCKET}/${path}`);
  expect(response.status).toBe(200);
  const bytes = Buffer.from(await response.arrayBuffer());
  expect(bytes.toString('ascii', 0, 4)).toBe('glTF');
  expect(bytes.readUInt32LE(8)).toBe(bytes.length);
  return bytes;
}

async function modelRows(jobId: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${stack.url}/rest/v1/models?job_id=eq.${jobId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>[];
}

const guideText = {
  prompt: 'A medieval castle with tall towers',
  style: 'realistic',
  texture: true,
  pbr: false,
  model_version: 'v2.5-20250123',
  face_limit: 10000,
  auto_size: true,
  texture_quality: 'standard',
};

describe('Tripo text-to-model', () => {
  it('sends only Tripo fields, polls to success and stores the GLB with a models row', async () => {
    const { execution, task, ref } = await runTask('text-to-model', guideText);
    expect(execution.status).toBe('SUCCEEDED');
    expect(task).toMatchObject({ status: 'complete', progress: 100 });
    const asset = task?.assets?.[0];
    expect(task?.assets).toHaveLength(1);
    expect(asset).toMatchObject({
      path: `${TENANT}/${ref.client_task_id}/${ref.job_id}/0.glb`,
      content_type: 'model/gltf-binary',
    });
    expect(asset?.bytes).toBe((await storedGlb(asset?.path)).length);

    // `style: "realistic"` is not sent; everything else under Tripo's own names.
    const [create, ...more] = await creates();
    expect(more).toHaveLength(0);
    expect(create?.fields).toEqual({
      type: 'text_to_model',
      prompt: 'A medieval castle with tall towers',
      texture: true,
      pbr: false,
      model_version: 'v2.5-20250123',
      face_limit: 10000,
      auto_size: true,
      texture_quality: 'standard',
    });
    // One queued and two running polls, then success, then one download of the (non-PBR) model.
    const gets = (await tripoRequests()).filter((request) => request.method === 'GET');
    expect(gets.map((request) => request.path)).toEqual([
      ...Array(4).fill(`/v2/openapi/task/${task?.ai_service_task_id}`),
      expect.stringMatching(/^\/v2\/openapi\/__files\/.+\/model\.glb$/),
    ]);
    expect(task?.result_metadata).toMatchObject({
      sent: { tripo_type: 'text_to_model', style: 'realistic: not sent (no stylisation)', result: 'model' },
    });

    const [row, ...others] = await modelRows(ref.job_id);
    expect(others).toHaveLength(0);
    expect(row).toMatchObject({
      job_id: ref.job_id,
      task_id: ref.client_task_id,
      operation: 'text-to-model',
      provider: 'tripo',
      status: 'complete',
      ai_service_task_id: task?.ai_service_task_id,
    });
    expect(String(row?.asset_url)).toMatch(new RegExp(`/${ref.job_id}/0\\.glb$`));
  });

  it('prefers the PBR model when Tripo made one', async () => {
    const { task } = await runTask('text-to-model', { prompt: 'a brass teapot', pbr: true });
    expect(task?.status).toBe('complete');
    expect(task?.result_metadata).toMatchObject({ sent: { result: 'pbr_model' } });
    const downloads = (await tripoRequests()).filter((request) => request.path.includes('/__files/'));
    expect(downloads.map((request) => request.path)).toEqual([expect.stringMatching(/\/pbr_model\.glb$/)]);
    const [create] = await creates();
    expect(create?.fields).toEqual({ type: 'text_to_model', prompt: 'a brass teapot', pbr: true });
  });

  it('records progress that rises while Tripo queues and runs the task', async () => {
    setTripoTimeline(2, 3);
    const ref = await processingTask('text-to-model', { prompt: 'a lighthouse' });
    let job: ProviderJob = await submitProviderJob(ref);
    expect((await taskRepository.get(TENANT, ref.job_id))?.ai_service_task_id).toBe(job.provider_job_id);
    expect(job.state).toEqual({ task_id: job.provider_job_id, type: 'text_to_model' });
    const seen: (number | undefined)[] = [];
    for (let poll = 0; poll < 5; poll++) {
      job = await pollProviderJob(ref, job);
      expect(job.status).toBe('pending');
      // Between Tripo's SDK floor (2 s) and the 30 s ceiling.
      expect(job.wait_seconds).toBeGreaterThanOrEqual(2);
      expect(job.wait_seconds).toBeLessThanOrEqual(30);
      seen.push((await taskRepository.get(TENANT, ref.job_id))?.progress);
    }
    const numbers = seen.filter((value): value is number => typeof value === 'number');
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.at(-1)).toBe(99);
    expect(numbers.at(-1)).toBeGreaterThan(numbers[0] ?? 0);
    job = await pollProviderJob(ref, job);
    expect(job.status).toBe('done');
    expect(job.result?.assets[0]?.path).toMatch(/\/0\.glb$/);
  });
});

describe('Tripo image-to-model', () => {
  it('uploads one image and creates image_to_model with its token', async () => {
    const { task } = await runTask('image-to-model', {
      input_image_asset_urls: [views[0]],
      prompt: 'Make it more detailed',
      orientation: 'align_image',
      texture_quality: 'detailed',
    });
    expect(task?.status).toBe('complete');
    expect(task?.assets?.[0]?.path).toMatch(/\/0\.glb$/);
    const requests = await tripoRequests();
    const uploads = requests.filter((request) => request.path === '/v2/openapi/upload');
    expect(uploads).toHaveLength(1);
    expect(uploads[0]?.files.file).toEqual([
      { filename: 'front.png', type: 'image/png', size: expect.any(Number) },
    ]);
    const [create] = await creates();
    // No prompt: image tasks have none (recorded as not sent).
    expect(create?.fields).toEqual({
      type: 'image_to_model',
      file: { type: 'png', file_token: expect.any(String) },
      orientation: 'align_image',
      texture_quality: 'detailed',
    });
    expect(task?.result_metadata).toMatchObject({
      sent: { tripo_type: 'image_to_model', views: ['front'], prompt: expect.stringMatching(/^not sent/) },
    });
  });

  it.each([
    [2, [0, 1], ['token', 'token', 'empty', 'empty']],
    [4, [0, 1, 2, 3], ['token', 'token', 'token', 'token']],
  ])('sends %i images as multiview with four slots', async (_count, indexes, slots) => {
    const { task } = await runTask('image-to-model', {
      input_image_asset_urls: indexes.map((index) => views[index]),
    });
    expect(task?.status).toBe('complete');
    const uploads = (await tripoRequests()).filter((request) => request.path === '/v2/openapi/upload');
    expect(uploads).toHaveLength(indexes.length);
    const [create] = await creates();
    expect(Object.keys(create?.fields ?? {}).sort()).toEqual(['files', 'type']);
    expect(create?.fields.type).toBe('multiview_to_model');
    const files = create?.fields.files as Record<string, unknown>[];
    expect(files.map((file) => (Object.keys(file).length === 0 ? 'empty' : 'token'))).toEqual(slots);
    for (const file of files.filter((entry) => Object.keys(entry).length > 0)) {
      expect(file).toEqual({ type: 'png', file_token: expect.any(String) });
    }
    // Each view has its own upload, so its own token.
    expect(new Set(files.map((file) => file.file_token).filter(Boolean)).size).toBe(indexes.length);
  });

  it('keeps a missing left view as an empty slot', async () => {
    const { task } = await runTask('image-to-model', { input_image_asset_urls: [views[0], null, views[2]] });
    expect(task?.status).toBe('complete');
    const [create] = await creates();
    const files = create?.fields.files as Record<string, unknown>[];
    expect(files.map((file) => Object.keys(file).length > 0)).toEqual([true, false, true, false]);
    expect(task?.result_metadata).toMatchObject({ sent: { views: ['front', 'back'] } });
  });

  it('fails an input that is not an image before calling Tripo', async () => {
    const notes = await stack.upload('uploads/tripo-workflow/notes.txt', Buffer.from('hello'), 'text/plain');
    const { task } = await runTask('image-to-model', { input_image_asset_urls: [views[0], notes] });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toMatch(/input_image_asset_urls\[1\] must be a PNG, JPEG or WebP image/);
    expect(await tripoRequests()).toHaveLength(0);
  });
});

describe('Tripo failures', () => {
  it.each([
    [
      'failed',
      'provider_rejected',
      /failed to generate the model: task .* \(status "failed", error_code 1001/,
    ],
    ['unknown', 'provider_rejected', /system problem on its side/],
    ['cancelled', 'provider_rejected', /cancelled task .* \(status "cancelled"/],
    ['expired', 'provider_timeout', /status "expired".*timed out at Tripo/],
    ['banned', 'content_moderated', /content policy/],
  ])('ends a %s task as %s, saying which', async (outcome, errorCode, message) => {
    await stack.fault('tripo', { outcome });
    const { execution, task, ref } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(errorCode);
    expect(task).toMatchObject({ status: 'failed', error_code: errorCode });
    expect(task?.error).toMatch(message);
    expect(task?.assets).toBeUndefined();
    // Finalized at Tripo: not polled again after the terminal answer, never created twice.
    expect(await creates()).toHaveLength(1);
    const polls = (await tripoRequests()).filter((request) => request.path.startsWith('/v2/openapi/task/'));
    expect(polls.length).toBeLessThanOrEqual(4);
    expect((await tripoRequests()).some((request) => request.path.includes('/__files/'))).toBe(false);
    const [row] = await modelRows(ref.job_id);
    expect(row).toMatchObject({ status: 'failed', error: task?.error });
  });

  it('fails a create refused under the content policy (2008) as content_moderated', async () => {
    await stack.fault('tripo', { moderated: true });
    const { task } = await runTask('text-to-model', { prompt: 'something forbidden' });
    expect(task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
    expect(task?.error).toMatch(/code 2008/);
    expect(await creates()).toHaveLength(1);
  });

  it('does not retry a create refused for lack of credit (2010)', async () => {
    await stack.fault('tripo', { status: 403 });
    const { task } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toMatch(/not enough credit \(code 2010.*retrying will not help/);
    expect(await creates()).toHaveLength(1);
  });

  it.each([
    [{ status: 429 }, 'concurrency (2000)'],
    [{ status: 429, outcome: '1007' }, 'request rate (1007)'],
    [{ status: 500 }, 'server error'],
  ])('retries a create answered %j (%s), then succeeds', async (fault: Record<string, unknown>, _why) => {
    await stack.fault('tripo', fault);
    const { task } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(task?.status).toBe('complete');
    expect(await creates()).toHaveLength(2);
  });

  it('retries a 500 on a poll without creating again', async () => {
    // The create takes a harmless fault (the default outcome), so the 500 lands on a poll.
    await stack.fault('tripo', { outcome: 'success' });
    await stack.fault('tripo', { status: 500 });
    const { task } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(task?.status).toBe('complete');
    expect(await creates()).toHaveLength(1);
  });

  it('fails a job still running after its 30-minute deadline as timed out', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    const minutes = (Date.parse(job.deadline) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(29.9);
    expect(minutes).toBeLessThanOrEqual(30);
    const expired = { ...job, deadline: new Date(Date.now() - 1000).toISOString() };
    const error = await pollProviderJob(ref, expired).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobDeadlineExceededError);
    expect((error as Error).message).toMatch(/did not finish within 30 minutes \(timed out\)/);
    expect(errorCodeFor((error as Error).name)).toBe('provider_timeout');
  });
});

describe('Tripo refine-model', () => {
  /** A successful v1.4 draft (the only line Tripo refines), made through the workflow. */
  async function draft(version = 'v1.4-20240625') {
    const { task, ref } = await runTask('text-to-model', {
      prompt: 'a rough statue',
      model_version: version,
    });
    expect(task?.status).toBe('complete');
    const path = task?.assets?.[0]?.path ?? '';
    return {
      ref,
      tripoId: task?.ai_service_task_id,
      url: `${stack.url}/storage/v1/object/public/${BUCKET}/${path}`,
    };
  }

  it('refines a model this service produced, finding its Tripo task from the URL', async () => {
    const made = await draft();
    const { task, ref } = await runTask('refine-model', {
      input_model_asset_url: made.url,
      prompt: 'Make it look more weathered and ancient',
      texture_quality: 'detailed',
    });
    expect(task).toMatchObject({ status: 'complete', progress: 100 });
    expect(task?.assets?.[0]?.path).toBe(`${TENANT}/${ref.client_task_id}/${ref.job_id}/0.glb`);
    await storedGlb(task?.assets?.[0]?.path);
    const refines = (await creates()).filter((request) => request.fields.type === 'refine_model');
    expect(refines.map((request) => request.fields)).toEqual([
      { type: 'refine_model', draft_model_task_id: made.tripoId },
    ]);
    expect(task?.result_metadata).toMatchObject({
      sent: {
        tripo_type: 'refine_model',
        draft_model_task_id: made.tripoId,
        draft_from: 'input_model_asset_url',
        not_sent: ['prompt', 'texture_quality'],
      },
    });
    expect(await modelRows(ref.job_id)).toMatchObject([{ operation: 'refine-model', status: 'complete' }]);
  });

  it('sends the draft_model_task_id the client names', async () => {
    const made = await draft();
    const { task } = await runTask('refine-model', {
      input_model_asset_url: made.url,
      draft_model_task_id: made.tripoId,
    });
    expect(task?.status).toBe('complete');
    expect(task?.result_metadata).toMatchObject({ sent: { draft_from: 'request' } });
  });

  it('refuses, before calling Tripo, a produced model Tripo cannot refine (v2.5)', async () => {
    const made = await draft('v2.5-20250123');
    const before = (await creates()).length;
    const { task } = await runTask('refine-model', { input_model_asset_url: made.url });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toMatch(
      /made with model_version v2\.5-20250123; Tripo refines only drafts made with v1\.4/,
    );
    expect(await creates()).toHaveLength(before);
  });

  it("refuses a result path of another tenant's or an unknown job", async () => {
    const made = await draft();
    const foreign = made.url.replace(`/${TENANT}/`, '/other_tenant/');
    const unknownJob = made.url.replace(made.ref.job_id, 'no-such-job');
    for (const url of [foreign, unknownJob]) {
      const { task } = await runTask('refine-model', { input_model_asset_url: url });
      expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
      expect(task?.error).toMatch(
        /not a model this service produced for this API key; send draft_model_task_id/,
      );
    }
  });

  it('passes on Tripo refusing a draft id that is not a draft', async () => {
    const { task } = await runTask('refine-model', {
      input_model_asset_url: views[0]?.replace(/front\.png$/, 'model.glb'),
      draft_model_task_id: 'not-a-tripo-task',
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toMatch(/code 2001/);
  });
});

describe('Tripo answers the simulator cannot script', () => {
  let decoy: Server;
  let decoyUrl: string;
  let glb: Buffer;
  /** What the decoy answers for `GET /task/abc`, one entry per poll. */
  let answers: Record<string, unknown>[] = [];
  const hits: string[] = [];

  beforeAll(async () => {
    // A real GLB to serve, as the simulator made it.
    const { task } = await runTask('text-to-model', { prompt: 'a cube' });
    glb = await storedGlb(task?.assets?.[0]?.path);
    decoy = createServer((request, response) => {
      hits.push(request.url ?? '');
      if (request.url === '/v2/openapi/task/abc') {
        const data = answers.shift() ?? { status: 'unknown' };
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ code: 0, data: { task_id: 'abc', ...data } }));
        return;
      }
      // The first link has expired by the time it is fetched, as Tripo's five-minute links can.
      if (request.url === '/files/expired.glb') {
        response.writeHead(403, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: 'Request has expired' }));
        return;
      }
      response.writeHead(200, { 'content-type': 'model/gltf-binary' });
      response.end(glb);
    });
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
    decoyUrl = `http://127.0.0.1:${(decoy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    decoy.closeAllConnections();
    await new Promise<void>((resolve) => decoy.close(() => resolve()));
  });

  /** Polls job `abc` with the decoy configured as Tripo. */
  async function pollDecoy(job: ProviderJob, ref: TaskRef): Promise<ProviderJob> {
    const saved = process.env.TRIPO_BASE_URL;
    process.env.TRIPO_BASE_URL = `${decoyUrl}/v2/openapi`;
    resetConfig();
    try {
      return await pollProviderJob(ref, { ...job, state: { task_id: 'abc', type: 'text_to_model' } });
    } finally {
      process.env.TRIPO_BASE_URL = saved;
      resetConfig();
    }
  }

  it("waits by Tripo's own estimate while running, and doubles while it has none", async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    answers = [
      { status: 'queued', progress: 0, running_left_time: -1, queuing_num: 3 },
      { status: 'running', progress: 40, running_left_time: 100 },
      { status: 'running', progress: 70, running_left_time: 10 },
      { status: 'running', progress: 99, running_left_time: 1 },
    ];
    const waits: number[] = [];
    let current = job;
    for (let poll = 0; poll < 4; poll++) {
      current = await pollDecoy(current, ref);
      waits.push(current.wait_seconds);
    }
    // Doubling from the first 2 s; then half the estimate, within 2–30 s.
    expect(waits).toEqual([4, 30, 5, 2]);
    expect((await taskRepository.get(TENANT, ref.job_id))?.progress).toBe(99);
  });

  it('reads the task again for fresh URLs when the first one has expired, in the priority order', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    hits.length = 0;
    answers = [
      {
        status: 'success',
        output: { base_model: `${decoyUrl}/files/base.glb`, model: `${decoyUrl}/files/expired.glb` },
      },
      {
        status: 'success',
        output: { base_model: `${decoyUrl}/files/base.glb`, model: `${decoyUrl}/files/fresh.glb` },
      },
    ];
    const done = await pollDecoy(job, ref);
    expect(done.status).toBe('done');
    expect(done.result?.assets[0]).toMatchObject({ content_type: 'model/gltf-binary', bytes: glb.length });
    expect(hits).toEqual([
      '/v2/openapi/task/abc',
      '/files/expired.glb',
      '/v2/openapi/task/abc',
      '/files/fresh.glb',
    ]);
  });

  it('refuses a result that is not a GLB', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    answers = [{ status: 'success', output: { model: `${decoyUrl}/v2/openapi/task/abc` } }];
    await expect(pollDecoy(job, ref)).rejects.toThrow(/returned a model that is not a GLB model/);
  });
});

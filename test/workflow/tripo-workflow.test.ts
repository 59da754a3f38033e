import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { errorCodeFor, JobDeadlineExceededError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { tripoGenerationPolling } from '../../functions/core/providers/tripo/settings.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { pollProviderJob, submitProviderJob } from '../../functions/core/workflow/async-jobs.ts';
import type { ProviderJob } from '../../functions/core/workflow/step-io.ts';
import { resetTripoSandbox, setTripoTimeline } from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Tripo API v3 through the real state-machines/generation.asl.json (SubmitProviderJob → Wait →
 * PollProviderJob → IsProviderJobDone), against DynamoDB (dynalite), local Storage and the Tripo
 * simulator over HTTP. The simulator rejects undocumented fields and serves only v3's paths, so
 * every success here also proves the BFF sent only Tripo's own fields to today's endpoints.
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

/** Task-creating calls: the three generation endpoints and re-texturing. */
async function creates(): Promise<RecordedRequest[]> {
  return (await tripoRequests()).filter(
    (request) =>
      request.method === 'POST' &&
      (request.path.startsWith('/v3/generation/') || request.path === '/v3/models/texture'),
  );
}

async function uploads(): Promise<RecordedRequest[]> {
  return (await tripoRequests()).filter(
    (request) => request.method === 'POST' && request.path === '/v3/files',
  );
}

async function polls(): Promise<RecordedRequest[]> {
  return (await tripoRequests()).filter((request) => request.path.startsWith('/v3/tasks/'));
}

/** Runs `work` with an environment variable set, restoring it (and the parsed config) after. */
async function withEnv<T>(name: string, value: string, work: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  process.env[name] = value;
  resetConfig();
  try {
    return await work();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
    resetConfig();
  }
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
  it('runs the guide example: Tripo fields only, polled to success, GLB stored with a models row', async () => {
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

    // `style: "realistic"` is not sent; model_version is v3's `model`; the rest under Tripo's names.
    const [create, ...more] = await creates();
    expect(more).toHaveLength(0);
    expect(create?.path).toBe('/v3/generation/text-to-model');
    expect(create?.fields).toEqual({
      prompt: 'A medieval castle with tall towers',
      model: 'v2.5-20250123',
      texture: true,
      pbr: false,
      face_limit: 10000,
      auto_size: true,
      texture_quality: 'standard',
    });
    // One queued and two running polls, then success; then one download of the model.
    expect((await polls()).map((request) => request.path)).toEqual(
      Array(4).fill(`/v3/tasks/${task?.ai_service_task_id}`),
    );
    expect((await tripoRequests()).filter((request) => request.method === 'GET')).toHaveLength(5);
    expect(task?.result_metadata).toMatchObject({
      sent: {
        tripo_endpoint: '/generation/text-to-model',
        model: 'v2.5-20250123',
        model_from: 'request model_version',
        style: 'realistic: not sent (no stylisation)',
        credits_consumed: expect.any(Number),
      },
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

  it('always sends a model: the configured default when the request names none', async () => {
    const { task } = await runTask('text-to-model', { prompt: 'a brass teapot', pbr: true });
    expect(task?.status).toBe('complete');
    const [create] = await creates();
    expect(create?.fields).toEqual({ prompt: 'a brass teapot', model: 'v3.1-20260211', pbr: true });
    expect(task?.result_metadata).toMatchObject({
      sent: { model: 'v3.1-20260211', model_from: 'TRIPO_MODEL' },
    });
    await withEnv('TRIPO_MODEL', 'P1-20260311', async () => {
      const { task: other } = await runTask('text-to-model', { prompt: 'a stool' });
      expect(other?.status).toBe('complete');
      expect((await creates()).at(-1)?.fields).toEqual({ prompt: 'a stool', model: 'P1-20260311' });
    });
  });

  it('records progress that rises while Tripo queues and runs the task, 100 only at the end', async () => {
    setTripoTimeline(2, 3);
    const ref = await processingTask('text-to-model', { prompt: 'a lighthouse' });
    let job: ProviderJob = await submitProviderJob(ref);
    expect((await taskRepository.get(TENANT, ref.job_id))?.ai_service_task_id).toBe(job.provider_job_id);
    expect(job.state).toEqual({ task_id: job.provider_job_id, endpoint: '/generation/text-to-model' });
    const seen: (number | undefined)[] = [];
    for (let poll = 0; poll < 5; poll++) {
      job = await pollProviderJob(ref, job);
      expect(job.status).toBe('pending');
      expect(job.wait_seconds).toBeGreaterThanOrEqual(tripoGenerationPolling.minWaitSeconds);
      expect(job.wait_seconds).toBeLessThanOrEqual(tripoGenerationPolling.maxWaitSeconds);
      seen.push((await taskRepository.get(TENANT, ref.job_id))?.progress);
    }
    const numbers = seen.filter((value): value is number => typeof value === 'number');
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(Math.max(...numbers)).toBeLessThan(100);
    expect(numbers.at(-1)).toBeGreaterThan(numbers[0] ?? 0);
    job = await pollProviderJob(ref, job);
    expect(job.status).toBe('done');
    expect(job.result?.assets[0]?.path).toMatch(/\/0\.glb$/);
  });
});

describe('Tripo image-to-model', () => {
  it('uploads one image with POST /files and creates image-to-model with its file_token', async () => {
    const { task } = await runTask('image-to-model', {
      input_image_asset_urls: [views[0]],
      prompt: 'Make it more detailed',
      orientation: 'align_image',
      texture_quality: 'detailed',
    });
    expect(task?.status).toBe('complete');
    expect(task?.assets?.[0]?.path).toMatch(/\/0\.glb$/);
    const sent = await uploads();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.files.file).toEqual([
      { filename: 'front.png', type: 'image/png', size: expect.any(Number) },
    ]);
    const [create] = await creates();
    expect(create?.path).toBe('/v3/generation/image-to-model');
    // No prompt: Tripo's image endpoints take none (recorded as not sent).
    expect(create?.fields).toEqual({
      input: expect.stringMatching(/^file_/),
      model: 'v3.1-20260211',
      orientation: 'align_image',
      texture_quality: 'detailed',
    });
    expect(task?.result_metadata).toMatchObject({
      sent: {
        tripo_endpoint: '/generation/image-to-model',
        views: ['front'],
        prompt: expect.stringMatching(/^not sent/),
      },
    });
  });

  it.each([
    [2, [0, 1], ['front', 'left']],
    [4, [0, 1, 2, 3], ['front', 'left', 'back', 'right']],
  ])('sends %i images to multiview-to-model, view by view', async (_count, indexes, names) => {
    const { task } = await runTask('image-to-model', {
      input_image_asset_urls: indexes.map((index) => views[index]),
    });
    expect(task?.status).toBe('complete');
    expect(await uploads()).toHaveLength(indexes.length);
    const [create] = await creates();
    expect(create?.path).toBe('/v3/generation/multiview-to-model');
    expect(Object.keys(create?.fields ?? {}).sort()).toEqual(['inputs', 'model']);
    const inputs = create?.fields.inputs as Record<string, string>[];
    expect(inputs.map((entry) => Object.keys(entry))).toEqual(names.map((name) => [name]));
    // Each view has its own upload, so its own token.
    const tokens = inputs.flatMap((entry) => Object.values(entry));
    expect(new Set(tokens).size).toBe(indexes.length);
    for (const token of tokens) expect(token).toMatch(/^file_/);
  });

  it('leaves a missing left view out, keeping front first', async () => {
    const { task } = await runTask('image-to-model', { input_image_asset_urls: [views[0], null, views[2]] });
    expect(task?.status).toBe('complete');
    const [create] = await creates();
    const inputs = create?.fields.inputs as Record<string, string>[];
    expect(inputs.map((entry) => Object.keys(entry)[0])).toEqual(['front', 'back']);
    expect(task?.result_metadata).toMatchObject({ sent: { views: ['front', 'back'] } });
  });

  it('sends a front view alone to image-to-model', async () => {
    const { task } = await runTask('image-to-model', {
      input_image_asset_urls: [views[0], null, null, null],
    });
    expect(task?.status).toBe('complete');
    expect((await creates()).map((request) => request.path)).toEqual(['/v3/generation/image-to-model']);
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
    ['failed', 'provider_rejected', /failed to make the model: task .* \(status "failed", error_code/],
    ['failed:2008', 'content_moderated', /content policy/],
    ['failed:2018', 'provider_timeout', /timed out in Tripo's queue/],
    ['unknown', 'provider_rejected', /problem on its side/],
    ['cancelled', 'provider_rejected', /cancelled task .* \(status "cancelled"/],
    ['expired', 'provider_timeout', /status "expired".*timed out in Tripo's queue/],
    ['banned', 'content_moderated', /content policy/],
    ['status:paused', 'provider_rejected', /status "paused"\), a status this service does not know/],
  ])('ends a %s task as %s, saying which', async (outcome, errorCode, message) => {
    await stack.fault('tripo', { outcome });
    const { execution, task, ref } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(errorCode);
    expect(task).toMatchObject({ status: 'failed', error_code: errorCode });
    expect(task?.error).toMatch(message);
    expect(task?.assets).toBeUndefined();
    // Finished at Tripo: not polled again after the final answer, never created twice.
    expect(await creates()).toHaveLength(1);
    expect((await polls()).length).toBeLessThanOrEqual(4);
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
    [{ status: 503 }, 'service unavailable'],
  ])(
    'sends a create Tripo declined (%j, %s) again, then succeeds',
    async (fault: Record<string, unknown>, _why: string) => {
      await stack.fault('tripo', fault);
      const { task } = await runTask('text-to-model', { prompt: 'a chair' });
      expect(task?.status).toBe('complete');
      expect(await creates()).toHaveLength(2);
    },
  );

  it.each([500, 502, 504])(
    'never sends a create again after HTTP %i, which may have created a task: one request, one bill at most',
    async (status) => {
      await stack.fault('tripo', { status });
      const { task, execution } = await runTask('text-to-model', { prompt: 'a chair' });
      expect(execution.status).toBe('FAILED');
      expect(task).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
      expect(task?.error).toMatch(
        new RegExp(`may or may not have created the task \\(it answered HTTP ${status}.*never paid twice`),
      );
      expect(await creates()).toHaveLength(1);
    },
  );

  it('retries a 500 on a poll without creating again', async () => {
    // The create takes a harmless fault (the default outcome), so the 500 lands on a poll.
    await stack.fault('tripo', { outcome: 'success' });
    await stack.fault('tripo', { status: 500 });
    const { task } = await runTask('text-to-model', { prompt: 'a chair' });
    expect(task?.status).toBe('complete');
    expect(await creates()).toHaveLength(1);
  });

  it('fails at once, naming the setting, when the configured model is one Tripo retired', async () => {
    await withEnv('TRIPO_MODEL', 'v2.0-20240919', async () => {
      const { task, execution } = await runTask('text-to-model', { prompt: 'a chair' });
      expect(execution.status).toBe('FAILED');
      expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
      expect(task?.error).toMatch(
        /no longer accepts the model 'v2\.0-20240919' \(code 2015.*set TRIPO_MODEL to a current Tripo model; retrying will not help/,
      );
    });
    expect(await creates()).toHaveLength(1);
  });

  it('fails at once when TRIPO_BASE_URL points at v2 paths the simulator no longer serves', async () => {
    const v2 = `${stack.url}/__sandbox/tripo/v2/openapi`;
    await withEnv('TRIPO_BASE_URL', v2, async () => {
      const { task } = await runTask('text-to-model', { prompt: 'a chair' });
      expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
      expect(task?.error).toContain(
        `does not serve /generation/text-to-model at TRIPO_BASE_URL=${v2} (HTTP 404)`,
      );
    });
    expect(await tripoRequests()).toHaveLength(1);
  });

  it("refuses Tripo's retired v2 host before sending anything", async () => {
    await withEnv('TRIPO_BASE_URL', 'https://api.tripo3d.ai/v2/openapi', async () => {
      const { task } = await runTask('text-to-model', { prompt: 'a chair' });
      expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
      expect(task?.error).toMatch(
        /TRIPO_BASE_URL is https:\/\/api\.tripo3d\.ai\/v2\/openapi, Tripo's v2 API, which Tripo shut down on 2026-10-31; set TRIPO_BASE_URL to https:\/\/openapi\.tripo3d\.ai\/v3/,
      );
    });
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

describe('Tripo refine-model (re-texturing)', () => {
  /** A model made through the workflow, with its storage URL. */
  async function produced(body: Record<string, unknown> = {}) {
    const { task, ref } = await runTask('text-to-model', { prompt: 'a rough statue', ...body });
    expect(task?.status).toBe('complete');
    const path = task?.assets?.[0]?.path ?? '';
    return {
      ref,
      tripoId: task?.ai_service_task_id,
      url: `${stack.url}/storage/v1/object/public/${BUCKET}/${path}`,
    };
  }

  it.each(['v2.5-20250123', 'v3.1-20260211', 'P1-20260311'])(
    're-textures a %s model this service produced, by its Tripo task id',
    async (version) => {
      const made = await produced({ model_version: version });
      const { task, ref } = await runTask('refine-model', {
        input_model_asset_url: made.url,
        prompt: 'Make it look more weathered and ancient',
        texture_quality: 'detailed',
      });
      expect(task).toMatchObject({ status: 'complete', progress: 100 });
      expect(task?.assets?.[0]?.path).toBe(`${TENANT}/${ref.client_task_id}/${ref.job_id}/0.glb`);
      await storedGlb(task?.assets?.[0]?.path);
      const textures = (await creates()).filter((request) => request.path === '/v3/models/texture');
      expect(textures.map((request) => request.fields)).toEqual([
        {
          input: made.tripoId,
          model: 'v3.0-20250812',
          texture_prompt: { text: 'Make it look more weathered and ancient' },
          texture_quality: 'detailed',
        },
      ]);
      expect(await uploads()).toHaveLength(0);
      expect(task?.result_metadata).toMatchObject({
        sent: {
          tripo_endpoint: '/models/texture',
          model: 'v3.0-20250812',
          model_from: 'TRIPO_TEXTURE_MODEL',
          input_from: expect.stringContaining(made.ref.job_id),
        },
      });
      expect(await modelRows(ref.job_id)).toMatchObject([{ operation: 'refine-model', status: 'complete' }]);
    },
  );

  it('runs the guide example: any GLB in storage is uploaded to Tripo first, and the row says what was sent', async () => {
    const made = await produced();
    const glb = await storedGlb(new URL(made.url).pathname.split(`/${BUCKET}/`)[1]);
    const url = await stack.upload('bucket/model.glb', glb, 'model/gltf-binary');
    const { task, ref } = await runTask('refine-model', {
      input_model_asset_url: url,
      prompt: 'Make it look more weathered and ancient',
      draft_model_task_id: 'tripo_task_prev_abc',
      texture: true,
      pbr: true,
      texture_quality: 'detailed',
      model_version: 'v2.5-20250123',
      face_limit: 20000,
      auto_size: true,
    });
    expect(task).toMatchObject({ status: 'complete', progress: 100 });
    const [upload, ...moreUploads] = await uploads();
    expect(moreUploads).toHaveLength(0);
    expect(upload?.files.file).toEqual([
      { filename: 'model.glb', type: 'model/gltf-binary', size: glb.length },
    ]);
    const texture = (await creates()).find((request) => request.path === '/v3/models/texture');
    expect(texture?.fields).toEqual({
      input: expect.stringMatching(/^file_/),
      model: 'v3.0-20250812',
      texture_prompt: { text: 'Make it look more weathered and ancient' },
      texture: true,
      pbr: true,
      texture_quality: 'detailed',
    });
    expect(task?.result_metadata).toMatchObject({
      sent: {
        input_from: expect.stringMatching(/uploaded to Tripo/),
        draft_model_task_id: expect.stringMatching(/^ignored/),
        not_sent: ['model_version', 'face_limit', 'auto_size'],
        operation_meaning: expect.stringMatching(/^re-texture/),
      },
    });
    const [row] = await modelRows(ref.job_id);
    expect(row).toMatchObject({ status: 'complete', operation: 'refine-model' });
  });

  it('fails an input that is not a GLB, and one that does not exist, before any paid call', async () => {
    const { task: notGlb } = await runTask('refine-model', {
      input_model_asset_url: views[0],
      prompt: 'bronze',
    });
    expect(notGlb).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(notGlb?.error).toMatch(/must be a GLB model/);
    const missing = `${stack.url}/storage/v1/object/public/${BUCKET}/${TENANT}/t/no-such-job/0.glb`;
    const { task: gone } = await runTask('refine-model', {
      input_model_asset_url: missing,
      prompt: 'bronze',
    });
    expect(gone).toMatchObject({ status: 'failed', error_code: 'input_not_found' });
    expect(await creates()).toHaveLength(0);
  });
});

describe('Tripo answers the simulator cannot script', () => {
  let decoy: Server;
  let decoyUrl: string;
  let glb: Buffer;
  /** What the decoy answers for `GET /v3/tasks/abc`, one entry per poll. */
  let answers: Record<string, unknown>[] = [];
  const hits: string[] = [];

  beforeAll(async () => {
    // A real GLB to serve, as the simulator made it.
    const { task } = await runTask('text-to-model', { prompt: 'a cube' });
    glb = await storedGlb(task?.assets?.[0]?.path);
    decoy = createServer((request, response) => {
      hits.push(request.url ?? '');
      if (request.url === '/v3/tasks/abc') {
        const data = answers.shift() ?? { status: 'unknown' };
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ code: 0, status: 'success', data: { task_id: 'abc', ...data } }));
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
  function pollDecoy(job: ProviderJob, ref: TaskRef): Promise<ProviderJob> {
    return withEnv('TRIPO_BASE_URL', `${decoyUrl}/v3`, () =>
      pollProviderJob(ref, { ...job, state: { task_id: 'abc', endpoint: '/generation/text-to-model' } }),
    );
  }

  it('never reports 100 before the result, even when Tripo says 100 while running', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    answers = [{ status: 'running', progress: 100 }];
    const current = await pollDecoy(job, ref);
    expect(current.status).toBe('pending');
    expect((await taskRepository.get(TENANT, ref.job_id))?.progress).toBe(99);
  });

  it('reads the task again for fresh URLs when the first one has expired', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    hits.length = 0;
    answers = [
      { status: 'success', output: { model_url: `${decoyUrl}/files/expired.glb` } },
      { status: 'success', output: { model_url: `${decoyUrl}/files/fresh.glb` } },
    ];
    const done = await pollDecoy(job, ref);
    expect(done.status).toBe('done');
    expect(done.result?.assets[0]).toMatchObject({ content_type: 'model/gltf-binary', bytes: glb.length });
    expect(hits).toEqual(['/v3/tasks/abc', '/files/expired.glb', '/v3/tasks/abc', '/files/fresh.glb']);
  });

  it('refuses a result that is not a GLB', async () => {
    const ref = await processingTask('text-to-model', { prompt: 'a chair' });
    const job = await submitProviderJob(ref);
    answers = [{ status: 'success', output: { model_url: `${decoyUrl}/v3/tasks/abc` } }];
    await expect(pollDecoy(job, ref)).rejects.toThrow(/returned a model that is not a GLB/);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetTripoSandbox, setTripoTimeline } from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The guide's Tripo examples (text-to-model, image-to-model with four views, refine-model) as a
 * client sends them, over HTTP against the local stack with the Tripo simulator behind the
 * adapter: accepted, progress shown while Tripo works, the GLB downloadable from its permanent URL.
 */

let stack: TestStack;
let views: string[];

beforeAll(async () => {
  // Real (short) Waits, so a client polling the status route can see the task in progress.
  stack = await startTestStack({ waitMs: 100 });
  views = await Promise.all(
    ['front', 'left', 'back', 'right'].map(async (name, index) =>
      stack.upload(`uploads/tripo-e2e/${name}.png`, await samplePng(64, 64, index + 7), 'image/png'),
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
  setTripoTimeline(1, 3);
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** Submits as a client does and polls the status route (with `service=tripoai`), keeping every answer. */
async function generate(operation: string, body: Record<string, unknown>) {
  const submitted = await stack.call(`/generation/${operation}`, { body });
  expect(submitted.status).toBe(202);
  const accepted = await json(submitted);
  const jobId = String(accepted.celery_task_id);
  expect(accepted).toEqual({
    celery_task_id: jobId,
    task_id: body.task_id,
    status: 'pending',
    status_url: `/tasks/${jobId}/status`,
  });
  const seen: Record<string, unknown>[] = [];
  for (let attempt = 0; attempt < 6000; attempt++) {
    const status = await json(await stack.call(`/tasks/${jobId}/status?service=tripoai`));
    seen.push(status);
    if (status.status === 'complete' || status.status === 'failed') return { jobId, seen, final: status };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${jobId} did not finish`);
}

async function downloadGlb(url: unknown): Promise<Buffer> {
  const response = await fetch(String(url));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('model/gltf-binary');
  const glb = Buffer.from(await response.arrayBuffer());
  expect(glb.toString('ascii', 0, 4)).toBe('glTF');
  expect(glb.readUInt32LE(8)).toBe(glb.length);
  return glb;
}

function expectProgressRose(seen: Record<string, unknown>[]): void {
  const progress = seen
    .map((body) => body.progress)
    .filter((value): value is number => typeof value === 'number');
  // Never down, and 100 only with complete.
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  const working = seen.filter((body) => body.status === 'processing' && typeof body.progress === 'number');
  expect(working.length).toBeGreaterThan(0);
  expect(working.every((body) => Number(body.progress) < 100)).toBe(true);
  expect(seen.at(-1)?.progress).toBe(100);
}

const guideTextToModel = {
  task_id: 'task-workspace-xyz789',
  provider: 'tripo',
  prompt: 'A medieval castle with tall towers',
  style: 'realistic',
  texture: true,
  pbr: false,
  model_version: 'v2.5-20250123',
  face_limit: 10000,
  auto_size: true,
  texture_quality: 'standard',
};

describe('Tripo over HTTP', () => {
  it('runs the guide text-to-model example to a stored GLB, showing progress on the way', async () => {
    const { jobId, seen, final } = await generate('text-to-model', guideTextToModel);
    expect(final).toMatchObject({
      task_id: jobId,
      status: 'complete',
      error: null,
      progress: 100,
      client_task_id: 'task-workspace-xyz789',
      operation: 'text-to-model',
      provider: 'tripo',
    });
    expect(String(final.ai_service_task_id).length).toBeGreaterThan(0);
    expect(String(final.asset_url)).toMatch(
      new RegExp(`/development_tenant/task-workspace-xyz789/${jobId}/0\\.glb$`),
    );
    await downloadGlb(final.asset_url);
    expectProgressRose(seen);
  });

  it('runs the guide image-to-model example with four views as multiview', async () => {
    const { final, seen } = await generate('image-to-model', {
      task_id: 'task-workspace-ghi789',
      provider: 'tripo',
      input_image_asset_urls: views,
      prompt: 'Make it more detailed',
      texture: true,
      pbr: false,
      texture_quality: 'detailed',
      model_version: 'v2.5-20250123',
      face_limit: 10000,
      auto_size: true,
      orientation: 'default',
    });
    expect(final).toMatchObject({ status: 'complete', operation: 'image-to-model', provider: 'tripo' });
    await downloadGlb(final.asset_url);
    expectProgressRose(seen);
    const requests = await stack.sandboxRequests('tripo');
    const create = requests.find((request) => request.path === '/v3/generation/multiview-to-model');
    expect(create?.fields).toEqual({
      inputs: ['front', 'left', 'back', 'right'].map((view) => ({ [view]: expect.stringMatching(/^file_/) })),
      model: 'v2.5-20250123',
      texture: true,
      pbr: false,
      texture_quality: 'detailed',
      face_limit: 10000,
      auto_size: true,
      orientation: 'default',
    });
    expect(requests.filter((request) => request.path === '/v3/files')).toHaveLength(4);
  });

  it('runs the guide refine-model example as written, on a model of any version', async () => {
    const made = await generate('text-to-model', {
      task_id: 'task-workspace-made',
      provider: 'tripo',
      prompt: 'A rough stone statue',
      model_version: 'v3.1-20260211',
    });
    expect(made.final.status).toBe('complete');
    // The guide's example exactly, its model being a GLB the client keeps in storage.
    const glb = await downloadGlb(made.final.asset_url);
    const modelUrl = await stack.upload('bucket/model.glb', glb, 'model/gltf-binary');
    const { final } = await generate('refine-model', {
      task_id: 'task-workspace-mno345',
      provider: 'tripo',
      input_model_asset_url: modelUrl,
      prompt: 'Make it look more weathered and ancient',
      draft_model_task_id: 'tripo_task_prev_abc',
      texture: true,
      pbr: true,
      texture_quality: 'detailed',
      model_version: 'v2.5-20250123',
      face_limit: 20000,
      auto_size: true,
    });
    expect(final).toMatchObject({ status: 'complete', operation: 'refine-model', progress: 100 });
    await downloadGlb(final.asset_url);
    const textures = (await stack.sandboxRequests('tripo')).filter(
      (request) => request.path === '/v3/models/texture',
    );
    expect(textures.map((request) => request.fields)).toEqual([
      {
        input: expect.stringMatching(/^file_/),
        model: 'v3.0-20250812',
        texture_prompt: { text: 'Make it look more weathered and ancient' },
        texture: true,
        pbr: true,
        texture_quality: 'detailed',
      },
    ]);
  });

  it('reports a banned task as failed with content_moderated', async () => {
    await stack.fault('tripo', { outcome: 'banned' });
    const { final } = await generate('text-to-model', { ...guideTextToModel, task_id: 'tripo-banned' });
    expect(final).toMatchObject({ status: 'failed', error_code: 'content_moderated', asset_url: null });
    expect(String(final.error)).toMatch(/content policy/);
    // Progress never reaches 100 on a failure.
    expect(final.progress === null || Number(final.progress) < 100).toBe(true);
  });

  it('answers 400 naming the field for a combination Tripo refuses, without calling Tripo', async () => {
    const response = await stack.call('/generation/text-to-model', {
      body: { ...guideTextToModel, texture: false, pbr: false, generate_parts: true },
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body.errors).toEqual([
      {
        field: 'generate_parts',
        message: expect.stringContaining('requires model_version v3.1-20260211 or v3.0-20250812'),
      },
    ]);
    expect(await stack.sandboxRequests('tripo')).toHaveLength(0);
  });
});

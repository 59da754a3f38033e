import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeImage } from '../../functions/core/images/codecs.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Stability image-to-model (SPAR3D) inside the real state-machines/generation.asl.json (local
 * runner), against the Stability simulator over HTTP: the GLB stored and mirrored to `models`,
 * the exact form SPAR3D receives (with the documented foreground_ratio translation), and how
 * each kind of Stability answer ends the task.
 */

const SPAR3D = '/v2beta/3d/stable-point-aware-3d';

let stack: TestStack;
let photoUrl: string;
let photoBytes: Buffer;
let counter = 0;

beforeAll(async () => {
  stack = await startTestStack();
  photoBytes = await makePhotoFile('png', 128, 128, { seed: 7 });
  photoUrl = await stack.upload('uploads/stability-3d-wf/photo.png', photoBytes, 'image/png');
});

afterAll(async () => {
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/stability/faults`, { method: 'DELETE' });
});

interface RecordedRequest {
  path: string;
  headers: Record<string, string>;
  fields: Record<string, string>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

async function stabilityRequests(): Promise<RecordedRequest[]> {
  return (await stack.sandboxRequests('stability')) as unknown as RecordedRequest[];
}

/** Validates the body as the API would, then runs the task through the state machine. */
async function runTask(body: Record<string, unknown>) {
  counter += 1;
  const { entry, params } = validateGeneration('image-to-model', {
    task_id: `stab-3d-wf-${counter}`,
    provider: 'stability',
    ...body,
  });
  const ref: TaskRef = {
    tenant_id: 'development_tenant',
    job_id: `stability-3d-workflow-${counter}-${Date.now()}`,
    client_task_id: `stab-3d-wf-${counter}`,
    operation: 'image-to-model',
    provider: entry.provider,
    params,
  };
  expect(await taskRepository.create(ref)).toBe(true);
  const before = (await stabilityRequests()).length;
  const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get(ref.tenant_id, ref.job_id);
  const requests = (await stabilityRequests()).slice(before);
  return { jobId: ref.job_id, execution, task, requests };
}

async function rows(table: string, jobId: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${stack.url}/rest/v1/${table}?job_id=eq.${jobId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>[];
}

/** A flat image: enough for the header checks, and quick to encode even when large (as JPEG). */
function flatJpeg(width: number, height: number): Promise<Buffer> {
  return encodeImage({ data: new Uint8Array(width * height * 4).fill(200), width, height }, 'jpeg');
}

describe('Stability image-to-model through the workflow', () => {
  it('sends the guide example to SPAR3D, stores the GLB and records the translation in the models row', async () => {
    const { jobId, execution, task, requests } = await runTask({
      input_image_asset_urls: [photoUrl],
      prompt: 'High quality 3D model',
      texture_resolution: 1024,
      remesh: 'quad',
      foreground_ratio: 0.85,
      target_type: 'vertex',
      target_count: 10000,
      guidance_scale: 3.0,
      seed: 12345,
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');

    // One call, with exactly SPAR3D's fields: no prompt, 0.85 sent as 1, numbers as text.
    expect(requests).toHaveLength(1);
    const [sent] = requests;
    expect(sent?.path).toBe(SPAR3D);
    expect(sent?.fields).toEqual({
      texture_resolution: '1024',
      foreground_ratio: '1',
      remesh: 'quad',
      target_type: 'vertex',
      target_count: '10000',
      guidance_scale: '3',
      seed: '12345',
    });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.png', type: 'image/png', size: photoBytes.length }],
    });
    expect(sent?.headers.authorization).toBe('Bearer sandbox');
    expect(sent?.headers.accept).toBe('*/*');

    // The GLB, stored as such.
    expect(task?.assets).toHaveLength(1);
    const asset = task?.assets?.[0];
    expect(asset?.content_type).toBe('model/gltf-binary');
    expect(asset?.path).toBe(`development_tenant/${task?.client_task_id}/${jobId}/0.glb`);
    const stored = await fetch(`${stack.url}/storage/v1/object/public/makeit3d-app-assets/${asset?.path}`);
    expect(stored.status).toBe(200);
    expect(stored.headers.get('content-type')).toBe('model/gltf-binary');
    const glb = Buffer.from(await stored.arrayBuffer());
    expect(glb.toString('ascii', 0, 4)).toBe('glTF');
    expect(glb.readUInt32LE(4)).toBe(2);
    expect(glb.readUInt32LE(8)).toBe(glb.length);

    const expectedSent = {
      endpoint: SPAR3D,
      texture_resolution: '1024',
      foreground_ratio: 1,
      remesh: 'quad',
      target_type: 'vertex',
      target_count: 10000,
      guidance_scale: 3,
      seed: 12345,
      translations: {
        foreground_ratio: {
          requested: 0.85,
          sent: 1,
          reason: 'SPAR3D takes 1-2; a value below 1 is sent as 1, its minimum',
        },
      },
      not_sent: { prompt: 'SPAR3D takes no prompt' },
    };
    expect(task?.result_metadata?.sent).toEqual(expectedSent);

    // 3D results are rows in `models`, never in `concept_images`.
    const [row, ...more] = await rows('models', jobId);
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      task_id: task?.client_task_id,
      job_id: jobId,
      tenant_id: 'development_tenant',
      operation: 'image-to-model',
      provider: 'stability',
      prompt: 'High quality 3D model',
      status: 'complete',
      error: null,
    });
    expect(String(row?.asset_url)).toMatch(new RegExp(`/${jobId}/0\\.glb$`));
    expect(row?.metadata).toMatchObject({
      request: { foreground_ratio: 0.85, texture_resolution: 1024 },
      sent: expectedSent,
    });
    expect(await rows('concept_images', jobId)).toEqual([]);
  });

  it('sends only the image when the request names nothing else, leaving the rest to SPAR3D', async () => {
    const { task, requests } = await runTask({ input_image_asset_urls: [photoUrl] });
    expect(task?.status).toBe('complete');
    expect(requests.map((request) => request.fields)).toEqual([{}]);
    expect(task?.result_metadata?.sent).toEqual({ endpoint: SPAR3D });
  });

  it('sends a foreground_ratio within 1-2 as it is, with no translation', async () => {
    const { task, requests } = await runTask({
      input_image_asset_urls: [photoUrl],
      foreground_ratio: 1.3,
      texture_resolution: '2048',
      seed: 0,
    });
    expect(task?.status).toBe('complete');
    expect(requests[0]?.fields).toEqual({ texture_resolution: '2048', foreground_ratio: '1.3', seed: '0' });
    expect(task?.result_metadata?.sent).toEqual({
      endpoint: SPAR3D,
      texture_resolution: '2048',
      foreground_ratio: 1.3,
      seed: 0,
    });
  });
});

describe('Stability answers that end or retry an image-to-model task', () => {
  it.each([
    [
      403,
      'content_moderated',
      /^Stability AI refused this request under its content policy.*content_moderation/,
    ],
    [
      402,
      'provider_rejected',
      /^Stability AI rejected the request \(HTTP 402\).*credits.*retrying will not help$/,
    ],
  ])('fails HTTP %i at once as %s, storing nothing', async (status, code, message) => {
    await stack.fault('stability', { status, times: 1 });
    const { jobId, execution, task, requests } = await runTask({ input_image_asset_urls: [photoUrl] });
    expect(execution.status).toBe('FAILED');
    expect(task).toMatchObject({ status: 'failed', error_code: code });
    expect(task?.error).toMatch(message);
    expect(task?.assets).toBeUndefined();
    expect(requests).toHaveLength(1);
    const [row] = await rows('models', jobId);
    expect(row).toMatchObject({ status: 'failed', asset_url: null, error: task?.error });
  });

  it.each([500, 429])('retries HTTP %i and then succeeds', async (status) => {
    await stack.fault('stability', { status, times: 1 });
    const { task, requests } = await runTask({ input_image_asset_urls: [photoUrl] });
    expect(task?.status).toBe('complete');
    expect(task?.assets?.[0]?.content_type).toBe('model/gltf-binary');
    expect(requests.map((request) => request.path)).toEqual([SPAR3D, SPAR3D]);
  });

  it("refuses an input over SPAR3D's 4,194,304 pixels as input_invalid, without calling Stability", async () => {
    const url = await stack.upload(
      'uploads/stability-3d-wf/large.jpg',
      await flatJpeg(2100, 2000),
      'image/jpeg',
    );
    const { task, requests } = await runTask({ input_image_asset_urls: [url] });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toBe(
      'input_image_asset_urls[0] is 2100x2000, which Stability AI SPAR3D does not take: it must have at most 4,194,304 pixels in total (it has 4,200,000)',
    );
    expect(requests).toHaveLength(0);
  });
});

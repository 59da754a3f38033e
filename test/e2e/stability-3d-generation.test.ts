import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The guide's "Stability AI Provider (SPAR3D)" image-to-model example as a client sends it, over
 * HTTP against the local stack: accepted, completed, the GLB downloadable from its permanent URL,
 * and SPAR3D received only its own fields (no prompt, no JSON accept, 0.85 sent as 1).
 */

let stack: TestStack;
let photoUrl: string;
let photoBytes: Buffer;

beforeAll(async () => {
  stack = await startTestStack();
  photoBytes = await makePhotoFile('png', 128, 128, { seed: 11 });
  photoUrl = await stack.upload('uploads/stability-3d-e2e/photo.png', photoBytes, 'image/png');
});

afterAll(async () => {
  await stack.stop();
});

interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  fields: Record<string, unknown>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

describe('the guide SPAR3D image-to-model example over HTTP', () => {
  it('completes with a downloadable GLB', async () => {
    const body = {
      task_id: 'task-workspace-mno345',
      provider: 'stability',
      input_image_asset_urls: [photoUrl],
      prompt: 'High quality 3D model',
      texture_resolution: 1024,
      remesh: 'quad',
      foreground_ratio: 0.85,
      target_type: 'vertex',
      target_count: 10000,
      guidance_scale: 3.0,
      seed: 12345,
    };
    const response = await stack.call('/generation/image-to-model', { body });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as Record<string, unknown>;
    const jobId = String(accepted.celery_task_id);
    expect(accepted).toEqual({
      celery_task_id: jobId,
      task_id: 'task-workspace-mno345',
      status: 'pending',
      status_url: `/tasks/${jobId}/status`,
    });

    const done = await stack.waitForTask(jobId);
    expect(done).toMatchObject({
      task_id: jobId,
      status: 'complete',
      error: null,
      operation: 'image-to-model',
      provider: 'stability',
      client_task_id: 'task-workspace-mno345',
    });
    const assetUrl = String(done.asset_url);
    expect(assetUrl).toMatch(new RegExp(`/development_tenant/task-workspace-mno345/${jobId}/0\\.glb$`));

    const download = await fetch(assetUrl);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('model/gltf-binary');
    const glb = Buffer.from(await download.arrayBuffer());
    // glTF-binary header: magic, version 2, total length; then the JSON chunk.
    expect(glb.toString('ascii', 0, 4)).toBe('glTF');
    expect(glb.readUInt32LE(4)).toBe(2);
    expect(glb.readUInt32LE(8)).toBe(glb.length);
    expect(glb.toString('ascii', 16, 20)).toBe('JSON');
    const gltf = JSON.parse(glb.toString('utf8', 20, 20 + glb.readUInt32LE(12)).trimEnd()) as {
      asset?: { version?: string };
      meshes?: unknown[];
    };
    expect(gltf.asset?.version).toBe('2.0');
    expect(gltf.meshes?.length).toBeGreaterThan(0);

    const requests = (await stack.sandboxRequests('stability')) as unknown as RecordedRequest[];
    expect(requests).toHaveLength(1);
    const [sent] = requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/v2beta/3d/stable-point-aware-3d');
    expect(sent?.headers.authorization).toBe('Bearer sandbox');
    expect(sent?.headers.accept).not.toMatch(/application\/json/);
    expect(sent?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=\S+$/);
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
  });

  it('answers two images with a 400 naming the field, before any call', async () => {
    const before = (await stack.sandboxRequests('stability')).length;
    const response = await stack.call('/generation/image-to-model', {
      body: {
        task_id: 'spar3d-two',
        provider: 'stability',
        input_image_asset_urls: [photoUrl, photoUrl],
      },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      detail:
        'Invalid request: input_image_asset_urls must hold exactly 1 image URL: Stability takes exactly 1 image; use provider tripo for multiview',
      errors: [
        {
          field: 'input_image_asset_urls',
          message:
            'must hold exactly 1 image URL: Stability takes exactly 1 image; use provider tripo for multiview',
        },
      ],
    });
    expect((await stack.sandboxRequests('stability')).length).toBe(before);
  });
});

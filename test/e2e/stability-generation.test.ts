import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFormat } from '../../functions/core/images/codecs.ts';
import { stabilitySandboxSettings } from '../../infra/local/sandbox/stability.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The guide's Stability examples as a client sends them, over HTTP against the local stack: each
 * is accepted, completes, its stored file is downloadable in the requested format, and Stability
 * received exactly the multipart fields its API documents.
 */

let stack: TestStack;
let imageUrl: string;
let sketchUrl: string;
let webpUrl: string;
let imageBytes: Buffer;
let sketchBytes: Buffer;
let webpBytes: Buffer;
const scaleBefore = stabilitySandboxSettings.outputScale;

beforeAll(async () => {
  stabilitySandboxSettings.outputScale = 0.25;
  stack = await startTestStack();
  [imageBytes, sketchBytes, webpBytes] = await Promise.all([
    makePhotoFile('png', 128, 128, { seed: 3 }),
    makePhotoFile('png', 96, 128, { seed: 4 }),
    makePhotoFile('webp', 112, 96, { seed: 5 }),
  ]);
  [imageUrl, sketchUrl, webpUrl] = await Promise.all([
    stack.upload('uploads/stability-e2e/image.png', imageBytes, 'image/png'),
    stack.upload('uploads/stability-e2e/sketch.png', sketchBytes, 'image/png'),
    stack.upload('uploads/stability-e2e/photo.webp', webpBytes, 'image/webp'),
  ]);
});

afterAll(async () => {
  stabilitySandboxSettings.outputScale = scaleBefore;
  await stack.stop();
});

interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  fields: Record<string, unknown>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

/** Submits over HTTP, polls to the end, downloads the result; returns it and what Stability got. */
async function generate(operation: string, body: Record<string, unknown>) {
  const response = await stack.call(`/generation/${operation}`, { body });
  expect(response.status).toBe(202);
  const accepted = (await response.json()) as Record<string, unknown>;
  expect(accepted).toMatchObject({ task_id: body.task_id, status: 'pending' });
  const jobId = String(accepted.celery_task_id);
  const done = await stack.waitForTask(jobId);
  expect(done).toMatchObject({
    task_id: jobId,
    status: 'complete',
    error: null,
    operation,
    provider: 'stability',
    client_task_id: body.task_id,
  });
  const download = await fetch(String(done.asset_url));
  expect(download.status).toBe(200);
  const bytes = Buffer.from(await download.arrayBuffer());
  const requests = (await stack.sandboxRequests('stability')) as unknown as RecordedRequest[];
  const sent = requests.at(-1);
  return { contentType: download.headers.get('content-type'), bytes, sent };
}

function expectStabilityHeaders(sent: RecordedRequest | undefined): void {
  expect(sent?.method).toBe('POST');
  expect(sent?.headers.authorization).toBe('Bearer sandbox');
  expect(sent?.headers.accept).toBe('image/*');
  expect(sent?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=\S+$/);
}

describe('the guide Stability examples over HTTP', () => {
  it('text-to-image', async () => {
    const { contentType, bytes, sent } = await generate('text-to-image', {
      task_id: 'task-workspace-ghi789',
      provider: 'stability',
      prompt: 'A violet cartoon flying elephant with big ears',
      style_preset: 'fantasy-art',
      aspect_ratio: '1:1',
      negative_prompt: 'realistic, photo',
      output_format: 'png',
      seed: 42,
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/generate/core');
    expect(sent?.fields).toEqual({
      prompt: 'A violet cartoon flying elephant with big ears',
      negative_prompt: 'realistic, photo',
      style_preset: 'fantasy-art',
      aspect_ratio: '1:1',
      output_format: 'png',
      seed: '42',
    });
    expect(sent?.files).toEqual({});
  });

  it('image-to-image', async () => {
    const { contentType, bytes, sent } = await generate('image-to-image', {
      task_id: 'task-workspace-def456',
      provider: 'stability',
      prompt: 'A futuristic cityscape at dusk',
      input_image_asset_url: imageUrl,
      style_preset: '3d-model',
      fidelity: 0.8,
      negative_prompt: 'blurry, low quality',
      output_format: 'png',
      seed: 12345,
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/control/style');
    expect(sent?.fields).toEqual({
      prompt: 'A futuristic cityscape at dusk',
      negative_prompt: 'blurry, low quality',
      style_preset: '3d-model',
      fidelity: '0.8',
      // The square input's proportions, since the request names no ratio.
      aspect_ratio: '1:1',
      output_format: 'png',
      seed: '12345',
    });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.png', type: 'image/png', size: imageBytes.length }],
    });
  });

  it('sketch-to-image', async () => {
    const { contentType, bytes, sent } = await generate('sketch-to-image', {
      task_id: 'task-workspace-jkl012',
      provider: 'stability',
      input_sketch_asset_url: sketchUrl,
      prompt: 'Modern furniture piece',
      control_strength: 0.7,
      style_preset: 'photographic',
      negative_prompt: 'blurry, distorted',
      output_format: 'png',
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/control/sketch');
    expect(sent?.fields).toEqual({
      prompt: 'Modern furniture piece',
      negative_prompt: 'blurry, distorted',
      control_strength: '0.7',
      style_preset: 'photographic',
      output_format: 'png',
    });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.png', type: 'image/png', size: sketchBytes.length }],
    });
  });

  it('remove-background, with a WebP input labelled as WebP', async () => {
    const { contentType, bytes, sent } = await generate('remove-background', {
      task_id: 'task-workspace-pqr678',
      provider: 'stability',
      input_image_asset_url: webpUrl,
      output_format: 'png',
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/edit/remove-background');
    expect(sent?.fields).toEqual({ output_format: 'png' });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.webp', type: 'image/webp', size: webpBytes.length }],
    });
  });

  it('search-and-recolor', async () => {
    const { contentType, bytes, sent } = await generate('search-and-recolor', {
      task_id: 'task-workspace-xyz123',
      provider: 'stability',
      input_image_asset_url: imageUrl,
      prompt: 'light blue cat with dark blue stripes, maintaining the same pose and expression',
      select_prompt: 'cat',
      negative_prompt: 'blurry, low quality, distorted, orange, tan, brown',
      grow_mask: 3,
      seed: 0,
      output_format: 'png',
      style_preset: 'photographic',
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/edit/search-and-recolor');
    expect(sent?.fields).toEqual({
      prompt: 'light blue cat with dark blue stripes, maintaining the same pose and expression',
      select_prompt: 'cat',
      negative_prompt: 'blurry, low quality, distorted, orange, tan, brown',
      grow_mask: '3',
      seed: '0',
      output_format: 'png',
      style_preset: 'photographic',
    });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.png', type: 'image/png', size: imageBytes.length }],
    });
  });

  it('upscale', async () => {
    const { contentType, bytes, sent } = await generate('upscale', {
      task_id: 'upscale-stability-001',
      provider: 'stability',
      input_image_asset_url: imageUrl,
      model: 'fast',
      output_format: 'png',
    });
    expect(contentType).toBe('image/png');
    expect(detectFormat(bytes)).toBe('png');
    expectStabilityHeaders(sent);
    expect(sent?.path).toBe('/v2beta/stable-image/upscale/fast');
    // `model` only picks the service; Stability's fast upscale has no such field.
    expect(sent?.fields).toEqual({ output_format: 'png' });
    expect(sent?.files).toEqual({
      image: [{ filename: 'image.png', type: 'image/png', size: imageBytes.length }],
    });
  });
});

describe('Stability requests refused before any call', () => {
  it('answers remove-background with jpeg 400, naming what Stability takes', async () => {
    const before = (await stack.sandboxRequests('stability')).length;
    const response = await stack.call('/generation/remove-background', {
      body: {
        task_id: 'rb-jpeg',
        provider: 'stability',
        input_image_asset_url: imageUrl,
        output_format: 'jpeg',
      },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      detail:
        "Invalid request: output_format must be one of: png, webp (Stability's background removal only produces png or webp)",
      errors: [
        {
          field: 'output_format',
          message: "must be one of: png, webp (Stability's background removal only produces png or webp)",
        },
      ],
    });
    expect((await stack.sandboxRequests('stability')).length).toBe(before);
  });
});

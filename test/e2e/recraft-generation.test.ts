import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { recraftSandboxSettings, resetRecraftSandbox } from '../../infra/local/sandbox/recraft.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Recraft as a client of the guide uses it: each Recraft example payload of the guide over HTTP
 * (input URLs replaced by images uploaded to the stack), polled until complete, every result
 * downloaded and decoded, and the exact request the Recraft simulator received.
 */

interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  fields: Record<string, unknown>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

let stack: TestStack;
let imageUrl: string;
let maskUrl: string;
let imageBytes: number;
let maskBytes: number;
const outputScale = recraftSandboxSettings.outputScale;

beforeAll(async () => {
  // Generated images at 256 px instead of 1024 px: the same code paths, less work.
  recraftSandboxSettings.outputScale = 0.25;
  stack = await startTestStack();
  const image = await samplePng(256, 256);
  const data = new Uint8Array(256 * 256 * 4);
  for (let index = 0; index < 256 * 256; index++) {
    const value = Math.floor(index / 256) < 128 ? 255 : 0;
    data.set([value, value, value, 255], index * 4);
  }
  const mask = await encodeImage({ data, width: 256, height: 256 }, 'png');
  imageBytes = image.length;
  maskBytes = mask.length;
  imageUrl = await stack.upload('uploads/recraft-e2e/image.png', image, 'image/png');
  maskUrl = await stack.upload('uploads/recraft-e2e/mask.png', mask, 'image/png');
});

afterAll(async () => {
  recraftSandboxSettings.outputScale = outputScale;
  resetRecraftSandbox();
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/recraft/faults`, { method: 'DELETE' });
});

/** Submits over HTTP, waits, and returns the status body, the downloaded results and the provider call. */
async function generate(operation: string, body: Record<string, unknown>) {
  const response = await stack.call(`/generation/${operation}`, { body });
  expect(response.status).toBe(202);
  const accepted = (await response.json()) as Record<string, unknown>;
  expect(accepted).toMatchObject({ task_id: body.task_id, status: 'pending' });
  const jobId = String(accepted.celery_task_id);
  const done = await stack.waitForTask(jobId);
  expect(done).toMatchObject({ status: 'complete', provider: 'recraft', operation, error: null });
  const urls = (done.asset_urls as string[] | undefined) ?? [String(done.asset_url)];
  expect(urls[0]).toBe(done.asset_url);
  const images = await Promise.all(
    urls.map(async (url, index) => {
      expect(url).toMatch(
        new RegExp(`/development_tenant/${String(body.task_id)}/${jobId}/${index}\\.webp$`),
      );
      const download = await fetch(url);
      expect(download.status).toBe(200);
      return decodeImage(new Uint8Array(await download.arrayBuffer()));
    }),
  );
  const requests = (await (
    await fetch(`${stack.url}/__sandbox/recraft/requests`)
  ).json()) as RecordedRequest[];
  const calls = requests.filter((request) => request.path.startsWith('/v1/'));
  expect(calls).toHaveLength(1);
  const [call] = calls;
  if (!call) throw new Error('Recraft was not called');
  expect(call.method).toBe('POST');
  expect(call.headers.authorization).toBe('Bearer sandbox');
  const [row] = (await (await fetch(`${stack.url}/rest/v1/concept_images?job_id=eq.${jobId}`)).json()) as {
    metadata: { sent?: Record<string, unknown> };
  }[];
  return { done, images, call, sent: row?.metadata.sent };
}

const imageFile = () => ({ filename: 'image.png', type: 'image/png', size: imageBytes });

describe('Recraft over HTTP, as the guide shows it', () => {
  it('text-to-image: the guide example', async () => {
    const { images, call, sent } = await generate('text-to-image', {
      task_id: 'task-workspace-jkl012',
      provider: 'recraft',
      prompt: 'A violet cartoon flying elephant with big ears',
      style: 'digital_illustration',
      substyle: 'hand_drawn',
      n: 1,
      model: 'recraftv3',
      response_format: 'url',
      size: '1024x1024',
      style_id: 'custom_style_456',
    });
    expect(images.map((image) => [image.format, image.width, image.height])).toEqual([['webp', 256, 256]]);
    expect(call.path).toBe('/v1/images/generations');
    expect(call.headers['content-type']).toBe('application/json');
    // The guide's placeholder style_id is not a Recraft style id, and Recraft refuses it next to style.
    expect(call.fields).toEqual({
      prompt: 'A violet cartoon flying elephant with big ears',
      model: 'recraftv3',
      style: 'digital_illustration',
      substyle: 'hand_drawn',
      n: 1,
      response_format: 'url',
      size: '1024x1024',
    });
    expect(sent).toEqual({
      endpoint: '/v1/images/generations',
      model: 'recraftv3',
      not_sent: {
        style_id: "'custom_style_456' is the guide's placeholder, not a Recraft style id (a UUID)",
      },
    });
  });

  it('image-to-image: the guide example, two images', async () => {
    const { done, images, call } = await generate('image-to-image', {
      task_id: 'task-workspace-ghi789',
      provider: 'recraft',
      prompt: 'A futuristic cityscape at dusk',
      input_image_asset_url: imageUrl,
      style: 'realistic_image',
      substyle: 'b_and_w',
      strength: 0.3,
      negative_prompt: 'cartoon, anime',
      n: 2,
      model: 'recraftv3',
      response_format: 'url',
      style_id: 'custom_style_123',
    });
    expect(done.asset_urls).toHaveLength(2);
    expect(images.map((image) => [image.format, image.width, image.height])).toEqual([
      ['webp', 256, 256],
      ['webp', 256, 256],
    ]);
    expect(call.path).toBe('/v1/images/imageToImage');
    expect(call.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(call.fields).toEqual({
      prompt: 'A futuristic cityscape at dusk',
      strength: '0.3',
      model: 'recraftv3',
      style: 'realistic_image',
      substyle: 'b_and_w',
      negative_prompt: 'cartoon, anime',
      n: '2',
      response_format: 'url',
    });
    expect(call.files).toEqual({ image: [imageFile()] });
  });

  it('image-inpaint: every field of the contract row', async () => {
    const { done, images, call } = await generate('image-inpaint', {
      task_id: 'task-workspace-inpaint-1',
      provider: 'recraft',
      prompt: 'A red balloon in the sky',
      input_image_asset_url: imageUrl,
      input_mask_asset_url: maskUrl,
      negative_prompt: 'blurry',
      n: 2,
      style: 'realistic_image',
      substyle: 'natural_light',
      model: 'recraftv3',
    });
    expect(done.asset_urls).toHaveLength(2);
    expect(images.map((image) => [image.format, image.width, image.height])).toEqual([
      ['webp', 256, 256],
      ['webp', 256, 256],
    ]);
    expect(call.path).toBe('/v1/images/inpaint');
    expect(call.fields).toEqual({
      prompt: 'A red balloon in the sky',
      model: 'recraftv3',
      style: 'realistic_image',
      substyle: 'natural_light',
      negative_prompt: 'blurry',
      n: '2',
    });
    expect(call.files).toEqual({
      image: [imageFile()],
      mask: [{ filename: 'mask.png', type: 'image/png', size: maskBytes }],
    });
  });

  it('remove-background: the guide example, sent as the `image` part', async () => {
    const { images, call } = await generate('remove-background', {
      task_id: 'task-workspace-stu901',
      provider: 'recraft',
      input_image_asset_url: imageUrl,
      response_format: 'url',
    });
    expect(images.map((image) => [image.format, image.width, image.height])).toEqual([['webp', 256, 256]]);
    expect(images[0]?.hasAlpha).toBe(true);
    expect(call.path).toBe('/v1/images/removeBackground');
    expect(call.fields).toEqual({ response_format: 'url' });
    expect(call.files).toEqual({ image: [imageFile()] });
  });

  it('upscale: the guide example, crisp', async () => {
    const { images, call, sent } = await generate('upscale', {
      task_id: 'upscale-recraft-001',
      provider: 'recraft',
      input_image_asset_url: imageUrl,
      model: 'crisp',
      response_format: 'url',
    });
    expect(images.map((image) => [image.format, image.width, image.height])).toEqual([['webp', 512, 512]]);
    expect(call.path).toBe('/v1/images/crispUpscale');
    expect(call.fields).toEqual({ response_format: 'url' });
    expect(call.files).toEqual({ image: [imageFile()] });
    expect(sent).toEqual({ endpoint: '/v1/images/crispUpscale' });
  });

  it('answers 400 naming every Recraft rule a request breaks, before any call', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: {
        task_id: 'recraft-bad',
        provider: 'recraft',
        prompt: 'a chair',
        model: 'recraftv4_1',
        style: 'realistic_image',
        n: 7,
        size: '1792x1024',
      },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { detail: string; errors: { field: string; message: string }[] };
    expect(body.errors.map((error) => error.field)).toEqual(['n', 'style', 'size']);
    expect(body.detail).toMatch(
      /^Invalid request: n must be an integer between 1 and 6; style is not supported by recraftv4_1/,
    );
    const requests = (await (await fetch(`${stack.url}/__sandbox/recraft/requests`)).json()) as unknown[];
    expect(requests).toEqual([]);
  });
});

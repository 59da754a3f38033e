import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { detectFormat, encodeImage, readImageSize } from '../../functions/core/images/codecs.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { stabilitySandboxSettings } from '../../infra/local/sandbox/stability.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The Stability adapter inside the real state-machines/generation.asl.json (local runner), against
 * the Stability simulator over HTTP: each operation's happy path, and how each kind of Stability
 * answer ends a task.
 */

let stack: TestStack;
let squareUrl: string;
let wideUrl: string;
let jpegUrl: string;
let counter = 0;
const scaleBefore = stabilitySandboxSettings.outputScale;

/** A flat image: enough for the header checks, and quick to encode even when large (as JPEG). */
function flatImage(width: number, height: number, format: 'png' | 'jpeg'): Promise<Buffer> {
  return encodeImage({ data: new Uint8Array(width * height * 4).fill(200), width, height }, format);
}

beforeAll(async () => {
  // Generated pictures a quarter of the size per side keep the simulator fast.
  stabilitySandboxSettings.outputScale = 0.25;
  stack = await startTestStack();
  [squareUrl, wideUrl, jpegUrl] = await Promise.all([
    stack.upload('uploads/stability-wf/square.png', await makePhotoFile('png', 128, 128), 'image/png'),
    stack.upload('uploads/stability-wf/wide.png', await makePhotoFile('png', 192, 108), 'image/png'),
    stack.upload('uploads/stability-wf/photo.jpg', await makePhotoFile('jpeg', 96, 80), 'image/jpeg'),
  ]);
});

afterAll(async () => {
  stabilitySandboxSettings.outputScale = scaleBefore;
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/stability/faults`, { method: 'DELETE' });
});

interface RecordedRequest {
  path: string;
  fields: Record<string, string>;
  files: Record<string, { filename: string; type: string; size: number }[]>;
}

async function stabilityRequests(): Promise<RecordedRequest[]> {
  return (await stack.sandboxRequests('stability')) as unknown as RecordedRequest[];
}

/** Validates the body as the API would, then runs the task through the state machine. */
async function runTask(operation: string, body: Record<string, unknown>) {
  counter += 1;
  const { entry, params } = validateGeneration(operation, { task_id: `stab-wf-${counter}`, ...body });
  const ref: TaskRef = {
    tenant_id: 'development_tenant',
    job_id: `stability-workflow-${counter}-${Date.now()}`,
    client_task_id: `stab-wf-${counter}`,
    operation,
    provider: entry.provider,
    params,
  };
  expect(await taskRepository.create(ref)).toBe(true);
  const before = (await stabilityRequests()).length;
  const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get(ref.tenant_id, ref.job_id);
  const requests = (await stabilityRequests()).slice(before);
  return { execution, task, requests };
}

async function storedFile(path: string | undefined): Promise<{ contentType: string | null; bytes: Buffer }> {
  const response = await fetch(`${stack.url}/storage/v1/object/public/makeit3d-app-assets/${path}`);
  expect(response.status).toBe(200);
  return {
    contentType: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

const CONTENT_TYPES = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;
const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' } as const;

describe('Stability operations through the workflow', () => {
  const cases: {
    operation: string;
    body: () => Record<string, unknown>;
    endpoint: string;
    format: 'png' | 'jpeg' | 'webp';
  }[] = [
    {
      operation: 'text-to-image',
      body: () => ({
        provider: 'stability',
        prompt: 'a violet elephant',
        aspect_ratio: '16:9',
        output_format: 'jpeg',
      }),
      endpoint: '/v2beta/stable-image/generate/core',
      format: 'jpeg',
    },
    {
      operation: 'image-to-image',
      body: () => ({
        provider: 'stability',
        prompt: 'a futuristic city',
        input_image_asset_url: squareUrl,
        fidelity: 0.3,
        output_format: 'webp',
      }),
      endpoint: '/v2beta/stable-image/control/style',
      format: 'webp',
    },
    {
      operation: 'sketch-to-image',
      body: () => ({ prompt: 'a chair', input_sketch_asset_url: squareUrl, seed: 99 }),
      endpoint: '/v2beta/stable-image/control/sketch',
      format: 'png',
    },
    {
      operation: 'remove-background',
      body: () => ({ provider: 'stability', input_image_asset_url: jpegUrl, output_format: 'webp' }),
      endpoint: '/v2beta/stable-image/edit/remove-background',
      format: 'webp',
    },
    {
      operation: 'search-and-recolor',
      body: () => ({
        prompt: 'a blue cat',
        select_prompt: 'cat',
        input_image_asset_url: squareUrl,
        output_format: 'jpeg',
      }),
      endpoint: '/v2beta/stable-image/edit/search-and-recolor',
      format: 'jpeg',
    },
    {
      operation: 'upscale',
      body: () => ({ provider: 'stability', input_image_asset_url: jpegUrl, output_format: 'png' }),
      endpoint: '/v2beta/stable-image/upscale/fast',
      format: 'png',
    },
  ];

  it.each(cases)('$operation calls $endpoint once and stores a $format file', async (testCase) => {
    const { execution, task, requests } = await runTask(testCase.operation, testCase.body());
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(requests.map((request) => request.path)).toEqual([testCase.endpoint]);
    const asset = task?.assets?.[0];
    expect(task?.assets).toHaveLength(1);
    expect(asset?.content_type).toBe(CONTENT_TYPES[testCase.format]);
    expect(asset?.path.endsWith(`/0.${EXTENSIONS[testCase.format]}`)).toBe(true);
    const stored = await storedFile(asset?.path);
    expect(stored.contentType).toBe(CONTENT_TYPES[testCase.format]);
    expect(detectFormat(stored.bytes)).toBe(testCase.format);
    expect(task?.result_metadata?.sent).toMatchObject({
      endpoint: testCase.endpoint,
      output_format: testCase.format,
    });
  });

  it('sends sketch-to-image with the default control_strength, the seed, and no blank negative prompt', async () => {
    const { requests, task } = await runTask('sketch-to-image', {
      prompt: 'a chair',
      input_sketch_asset_url: squareUrl,
      negative_prompt: '  ',
      seed: 99,
    });
    expect(task?.status).toBe('complete');
    expect(requests[0]?.fields).toEqual({
      prompt: 'a chair',
      control_strength: '0.7',
      output_format: 'png',
      seed: '99',
    });
  });

  it('upscales to four times the input and records the seed Stability used', async () => {
    const { task } = await runTask('upscale', { provider: 'stability', input_image_asset_url: jpegUrl });
    const stored = await storedFile(task?.assets?.[0]?.path);
    expect(readImageSize(stored.bytes, 'png')).toEqual({ width: 384, height: 320 });
    expect(task?.result_metadata?.sent).toEqual({
      endpoint: '/v2beta/stable-image/upscale/fast',
      output_format: 'png',
      seed_used: expect.any(Number),
    });
  });

  it('sends image-to-image with the ratio nearest the input unless one is asked for', async () => {
    const wide = await runTask('image-to-image', {
      provider: 'stability',
      prompt: 'a city',
      input_image_asset_url: wideUrl,
    });
    expect(wide.requests[0]?.fields).toMatchObject({ aspect_ratio: '16:9', fidelity: '0.8' });
    expect(wide.task?.result_metadata?.sent).toMatchObject({
      aspect_ratio: '16:9',
      aspect_ratio_from_input: '192x108',
      fidelity: 0.8,
    });
    const stored = await storedFile(wide.task?.assets?.[0]?.path);
    const size = readImageSize(stored.bytes, 'png');
    expect((size?.width ?? 0) / (size?.height ?? 1)).toBeCloseTo(16 / 9, 1);

    const chosen = await runTask('image-to-image', {
      provider: 'stability',
      prompt: 'a city',
      input_image_asset_url: wideUrl,
      aspect_ratio: '1:1',
    });
    expect(chosen.requests[0]?.fields.aspect_ratio).toBe('1:1');
    expect(chosen.task?.result_metadata?.sent).not.toHaveProperty('aspect_ratio_from_input');
  });
});

describe('Stability answers that end or retry a task', () => {
  const textToImage = { provider: 'stability', prompt: 'a red chair' };

  it('fails a CONTENT_FILTERED result as content_moderated and stores nothing', async () => {
    await stack.fault('stability', { moderated: true, times: 1 });
    const { execution, task, requests } = await runTask('search-and-recolor', {
      prompt: 'a green cat',
      select_prompt: 'cat',
      input_image_asset_url: squareUrl,
    });
    expect(execution.status).toBe('FAILED');
    expect(task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
    expect(task?.error).toMatch(
      /^Stability AI refused this request under its content policy.*CONTENT_FILTERED/,
    );
    expect(task?.assets).toBeUndefined();
    expect(requests).toHaveLength(1);
  });

  it.each([
    [403, 'content_moderated', /content policy.*content_moderation/],
    [
      402,
      'provider_rejected',
      /^Stability AI rejected the request \(HTTP 402\).*credits.*retrying will not help$/,
    ],
    [
      400,
      'provider_rejected',
      /^Stability AI rejected the request \(HTTP 400\): bad_request.*retrying will not help$/,
    ],
    [401, 'provider_rejected', /refused the BFF's credentials \(HTTP 401\)/],
  ])('fails HTTP %i at once as %s', async (status, code, message) => {
    await stack.fault('stability', { status, times: 1 });
    const { task, requests } = await runTask('text-to-image', textToImage);
    expect(task).toMatchObject({ status: 'failed', error_code: code });
    expect(task?.error).toMatch(message);
    expect(requests).toHaveLength(1);
  });

  it('fails a 422 public_figure refusal as content_moderated', async () => {
    await stack.fault('stability', { status: 422, outcome: 'public_figure', times: 1 });
    const { task } = await runTask('sketch-to-image', {
      prompt: 'a face',
      input_sketch_asset_url: squareUrl,
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
    expect(task?.error).toMatch(/public_figure/);
  });

  it('retries a 500 and then succeeds', async () => {
    await stack.fault('stability', { status: 500, times: 1 });
    const { task, requests } = await runTask('remove-background', {
      provider: 'stability',
      input_image_asset_url: squareUrl,
    });
    expect(task?.status).toBe('complete');
    expect(requests.map((request) => request.path)).toEqual([
      '/v2beta/stable-image/edit/remove-background',
      '/v2beta/stable-image/edit/remove-background',
    ]);
  });

  it('retries a 429 rate limit and then succeeds', async () => {
    await stack.fault('stability', { status: 429, times: 1 });
    const { task, requests } = await runTask('text-to-image', textToImage);
    expect(task?.status).toBe('complete');
    expect(requests).toHaveLength(2);
  });
});

describe('Inputs outside a Stability service limits fail before any call', () => {
  it.each([
    {
      name: 'a side over 1,536 px for fast upscale',
      operation: 'upscale',
      size: [1600, 40],
      format: 'png',
      field: 'input_image_asset_url',
      message:
        /^input_image_asset_url is 1600x40, which Stability AI fast upscale does not take: each side must be at most 1,536 pixels$/,
    },
    {
      name: 'over 1,048,576 px for fast upscale',
      operation: 'upscale',
      size: [1100, 1000],
      format: 'jpeg',
      field: 'input_image_asset_url',
      message:
        /fast upscale does not take: it must have at most 1,048,576 pixels in total \(it has 1,100,000\)$/,
    },
    {
      name: 'over 4,194,304 px for background removal',
      operation: 'remove-background',
      size: [2100, 2000],
      format: 'jpeg',
      field: 'input_image_asset_url',
      message: /background removal does not take: it must have at most 4,194,304 pixels in total/,
    },
    {
      name: 'wider than 2.5:1 for sketch control',
      operation: 'sketch-to-image',
      size: [300, 100],
      format: 'png',
      field: 'input_sketch_asset_url',
      message:
        /^input_sketch_asset_url is 300x100, which Stability AI sketch control does not take: its aspect ratio must be between 1:2.5 and 2.5:1$/,
    },
    {
      name: 'a side under 64 px for search and recolor',
      operation: 'search-and-recolor',
      size: [60, 100],
      format: 'png',
      field: 'input_image_asset_url',
      message: /search and recolor does not take: each side must be at least 64 pixels$/,
    },
  ] as const)('refuses $name as input_invalid', async ({ operation, size, format, field, message }) => {
    const [width, height] = size;
    const url = await stack.upload(
      `uploads/stability-wf/${operation}-${width}x${height}.${format}`,
      await flatImage(width, height, format),
      `image/${format}`,
    );
    const { task, requests } = await runTask(operation, {
      provider: 'stability',
      prompt: 'p',
      select_prompt: 's',
      [field]: url,
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toMatch(message);
    expect(requests).toHaveLength(0);
  });

  it("refuses an input over Stability's 10 MiB body limit as input_too_large", async () => {
    // A real PNG padded after its end: small in pixels, large in bytes.
    const padded = Buffer.concat([await flatImage(100, 100, 'png'), Buffer.alloc(10 * 1024 * 1024)]);
    const url = await stack.upload('uploads/stability-wf/padded.png', padded, 'image/png');
    const { task, requests } = await runTask('remove-background', {
      provider: 'stability',
      input_image_asset_url: url,
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_too_large' });
    expect(task?.error).toBe(
      `input_image_asset_url is ${padded.length.toLocaleString('en-US')} bytes; Stability AI background removal takes images of at most 10,420,224 bytes (its requests are limited to 10 MiB)`,
    );
    expect(requests).toHaveLength(0);
  });

  it('refuses an image type Stability does not read', async () => {
    const gif = await makePhotoFile('gif', 80, 80);
    const url = await stack.upload('uploads/stability-wf/input.gif', gif, 'image/gif');
    const { task, requests } = await runTask('upscale', {
      provider: 'stability',
      input_image_asset_url: url,
    });
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toBe(
      'input_image_asset_url must be a PNG, JPEG or WebP image for Stability AI fast upscale (it is GIF)',
    );
    expect(requests).toHaveLength(0);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { detectFormat, encodeImage, readImageSize } from '../../functions/core/images/codecs.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { recraftSandboxSettings, resetRecraftSandbox } from '../../infra/local/sandbox/recraft.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Every Recraft operation through the real state-machines/generation.asl.json (run by the local
 * runner, every Task bound to the deployed handlers) against the Recraft simulator over HTTP,
 * DynamoDB (dynalite) and local Storage.
 */

type Operation = 'text-to-image' | 'image-to-image' | 'image-inpaint' | 'remove-background' | 'upscale';
const OPERATIONS: Operation[] = [
  'text-to-image',
  'image-to-image',
  'image-inpaint',
  'remove-background',
  'upscale',
];
const ENDPOINTS: Record<Operation, string> = {
  'text-to-image': '/v1/images/generations',
  'image-to-image': '/v1/images/imageToImage',
  'image-inpaint': '/v1/images/inpaint',
  'remove-background': '/v1/images/removeBackground',
  upscale: '/v1/images/crispUpscale',
};
/** Operations that take `n`; the processing tools always make one image. */
const MAKES_SEVERAL = new Set<Operation>(['text-to-image', 'image-to-image', 'image-inpaint']);

interface Recorded {
  method: string;
  path: string;
  fields: Record<string, unknown>;
}

let stack: TestStack;
const urls: Record<'image' | 'mask' | 'greyMask' | 'wideMask' | 'small', string> = {
  image: '',
  mask: '',
  greyMask: '',
  wideMask: '',
  small: '',
};
let counter = 0;
const outputScale = recraftSandboxSettings.outputScale;

/** A black/white mask (white, regenerate, on the left half); `grey` adds one grey pixel. */
async function mask(width: number, height: number, grey = false): Promise<Buffer> {
  const data = new Uint8Array(width * height * 4);
  for (let index = 0; index < width * height; index++) {
    const value = index % width < width / 2 ? 255 : 0;
    data.set([value, value, value, 255], index * 4);
  }
  if (grey) data.set([200, 200, 200, 255], (10 * width + 10) * 4);
  return encodeImage({ data, width, height }, 'png');
}

beforeAll(async () => {
  // Generated images at a quarter of their size (256 px sides): the same code paths, less work.
  recraftSandboxSettings.outputScale = 0.25;
  stack = await startTestStack();
  const upload = (name: string, bytes: Buffer) =>
    stack.upload(`uploads/recraft-wf/${name}`, bytes, 'image/png');
  urls.image = await upload('image.png', await samplePng(256, 256));
  urls.mask = await upload('mask.png', await mask(256, 256));
  urls.greyMask = await upload('grey-mask.png', await mask(256, 256, true));
  urls.wideMask = await upload('wide-mask.png', await mask(320, 256));
  urls.small = await upload('small.png', await samplePng(128, 128));
});

afterAll(async () => {
  recraftSandboxSettings.outputScale = outputScale;
  resetRecraftSandbox();
  await stack.stop();
});

beforeEach(async () => {
  // Clears scripted faults and the recorded requests.
  await fetch(`${stack.url}/__sandbox/recraft/faults`, { method: 'DELETE' });
});

function paramsFor(operation: Operation, extra: Record<string, unknown>): Record<string, unknown> {
  const task = { task_id: `rc-wf-${counter}`, provider: 'recraft' };
  switch (operation) {
    case 'text-to-image':
      return { ...task, prompt: `a recraft workflow test ${counter}`, ...extra };
    case 'image-to-image':
      return { ...task, prompt: 'make it winter', input_image_asset_url: urls.image, ...extra };
    case 'image-inpaint':
      return {
        ...task,
        prompt: 'a red balloon',
        input_image_asset_url: urls.image,
        input_mask_asset_url: urls.mask,
        ...extra,
      };
    default:
      return { ...task, input_image_asset_url: urls.image, ...extra };
  }
}

async function runTask(operation: Operation, extra: Record<string, unknown> = {}) {
  counter += 1;
  const jobId = `recraft-wf-${counter}-${Date.now()}`;
  const params = paramsFor(operation, extra);
  const ref: TaskRef = {
    tenant_id: 'development_tenant',
    job_id: jobId,
    client_task_id: String(params.task_id),
    operation,
    provider: 'recraft',
    params,
  };
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(jobId, JSON.stringify(ref));
  await execution.done;
  const task = await taskRepository.get('development_tenant', jobId);
  const requests = (await stack.sandboxRequests('recraft')) as Recorded[];
  return {
    execution,
    task,
    calls: requests.filter((request) => request.path === ENDPOINTS[operation]),
    downloads: requests.filter((request) => request.path.startsWith('/files/')),
  };
}

async function storedImage(
  path: string | undefined,
): Promise<{ format: string | undefined; width?: number }> {
  const response = await fetch(`${stack.url}/storage/v1/object/public/makeit3d-app-assets/${path}`);
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const format = detectFormat(bytes);
  return { format, ...(format ? { width: readImageSize(bytes, format)?.width } : {}) };
}

describe.each(OPERATIONS)('recraft %s', (operation) => {
  const n = MAKES_SEVERAL.has(operation) ? 2 : 1;
  const several = MAKES_SEVERAL.has(operation) ? { n } : {};

  it('stores every result the provider made, downloading its temporary URLs at once', async () => {
    const { execution, task, calls, downloads } = await runTask(operation, several);
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(calls).toHaveLength(1);
    expect(downloads).toHaveLength(n);
    expect(task?.assets).toHaveLength(n);
    for (const [index, asset] of (task?.assets ?? []).entries()) {
      expect(asset.path).toMatch(
        new RegExp(`^development_tenant/rc-wf-\\d+/recraft-wf-\\d+-\\d+/${index}\\.webp$`),
      );
      expect(asset.content_type).toBe('image/webp');
      // Generated at 1024 x 0.25; edits keep the 256 px input; crisp upscale doubles it.
      expect(await storedImage(asset.path)).toEqual({
        format: 'webp',
        width: operation === 'upscale' ? 512 : 256,
      });
    }
    expect(task?.result_metadata).toMatchObject({
      sent: { endpoint: ENDPOINTS[operation] },
      facts: { recraft_credits: expect.any(Number), recraft_image_ids: expect.any(Array) },
    });
  });

  it('decodes b64_json results', async () => {
    const { task, calls, downloads } = await runTask(operation, { ...several, response_format: 'b64_json' });
    expect(task?.status).toBe('complete');
    expect(calls[0]?.fields.response_format).toBe('b64_json');
    expect(downloads).toHaveLength(0);
    expect(task?.assets).toHaveLength(n);
    for (const asset of task?.assets ?? []) expect((await storedImage(asset.path)).format).toBe('webp');
  });

  it('fails a content-policy refusal as content_moderated, without retrying', async () => {
    await stack.fault('recraft', { moderated: true, times: 1 });
    const { execution, task, calls } = await runTask(operation);
    expect(execution.status).toBe('FAILED');
    expect(task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
    expect(task?.error).toMatch(/^Recraft refused this request under its content policy/);
    expect(calls).toHaveLength(1);
  });

  it('retries a provider 500 and then succeeds', async () => {
    await stack.fault('recraft', { status: 500, times: 1 });
    const { task, calls } = await runTask(operation);
    expect(task?.status).toBe('complete');
    expect(task?.assets).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });

  it('fails a 401 (plain-text body) at once, naming the credentials', async () => {
    await stack.fault('recraft', { status: 401, times: 1 });
    const { task, calls } = await runTask(operation);
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toBe(
      "Recraft refused the BFF's credentials (HTTP 401): request unauthorized; the service's provider key must be fixed, retrying will not help",
    );
    expect(calls).toHaveLength(1);
  });

  it('fails a 400 (JSON body) at once with Recraft’s explanation', async () => {
    await stack.fault('recraft', { status: 400, times: 1 });
    const { task, calls } = await runTask(operation);
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(task?.error).toBe(
      'Recraft rejected the request (HTTP 400): invalid_params: The request could not be processed (sandbox fault).; retrying will not help',
    );
    expect(calls).toHaveLength(1);
  });
});

describe('recraft input checks before any call', () => {
  it.each([
    [
      'a mask with a grey pixel',
      () => ({ input_mask_asset_url: urls.greyMask }),
      /^input_mask_asset_url must be pure black and white \(0 = keep, 255 = regenerate\); 1 pixels are grey or coloured, the first at \(10, 10\)$/,
    ],
    [
      'a mask of another size',
      () => ({ input_mask_asset_url: urls.wideMask }),
      /^input_mask_asset_url must have exactly the size of input_image_asset_url \(256x256\); it is 320x256$/,
    ],
    [
      'an image below Recraft’s 256 px',
      () => ({ input_image_asset_url: urls.small, input_mask_asset_url: urls.small }),
      /^input_image_asset_url is 128x128, which Recraft inpainting does not take/,
    ],
  ])('fails inpainting with %s as input_invalid', async (_name, change, message) => {
    const { task, calls } = await runTask('image-inpaint', change());
    expect(task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(task?.error).toMatch(message);
    expect(calls).toHaveLength(0);
  });

  it('lets crisp upscale take a 128 px image that image-to-image refuses', async () => {
    const upscaled = await runTask('upscale', { input_image_asset_url: urls.small });
    expect(upscaled.task?.status).toBe('complete');
    const edited = await runTask('image-to-image', { input_image_asset_url: urls.small });
    expect(edited.task).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
    expect(edited.calls).toHaveLength(0);
  });

  it('records the defaults it applied and the guide placeholder it did not send', async () => {
    const { task, calls } = await runTask('image-to-image', {
      style: 'realistic_image',
      style_id: 'custom_style_123',
    });
    expect(task?.status).toBe('complete');
    expect(calls[0]?.fields).toEqual({
      prompt: 'make it winter',
      strength: '0.2',
      model: 'recraftv3',
      style: 'realistic_image',
    });
    expect(task?.result_metadata?.sent).toEqual({
      endpoint: '/v1/images/imageToImage',
      model: 'recraftv3',
      strength: 0.2,
      defaults: { model: 'recraftv3', strength: 0.2 },
      not_sent: {
        style_id: "'custom_style_123' is the guide's placeholder, not a Recraft style id (a UUID)",
      },
    });
  });
});

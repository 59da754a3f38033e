import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * An image whose header claims 20000 x 20000 pixels (a few dozen bytes: a PNG with its IHDR and
 * IEND and no pixel data) sent to every operation of every provider that takes an image, over HTTP
 * against the local stack: the task fails with input_invalid and a message naming the field, the
 * size and the limit, and the provider's simulator never hears of it. Sent straight to each
 * simulator, the same file gets the provider's own refusal for its size. A decoder would have
 * answered differently (the file has no pixels to decode), so the size refusal shows the header
 * was judged first.
 */

let stack: TestStack;
let hugeUrl: string;
let smallUrl: string;
const HUGE = hugePng();

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** 20000 x 20000, 8-bit RGBA, in 57 bytes: signature, IHDR, IEND. */
function hugePng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20_000, 0);
  ihdr.writeUInt32BE(20_000, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

beforeAll(async () => {
  stack = await startTestStack();
  [hugeUrl, smallUrl] = await Promise.all([
    stack.upload('uploads/image-limits/huge.png', HUGE, 'image/png'),
    // Within every limit, for the other file of a two-file request (Recraft's mask, Tripo's views).
    stack.upload('uploads/image-limits/small.png', await samplePng(256, 256), 'image/png'),
  ]);
});

afterAll(async () => {
  await stack.stop();
});

const PROVIDERS = ['openai', 'stability', 'recraft', 'flux', 'tripo'];

beforeEach(async () => {
  // Clears each simulator's faults and recorded requests.
  await Promise.all(
    PROVIDERS.map((provider) => fetch(`${stack.url}/__sandbox/${provider}/faults`, { method: 'DELETE' })),
  );
});

interface Case {
  name: string;
  operation: string;
  provider: string;
  body: () => Record<string, unknown>;
  field: string;
  /** The limit the message must name. */
  limit: RegExp;
}

const CASES: Case[] = [
  {
    name: 'OpenAI image-to-image',
    operation: 'image-to-image',
    provider: 'openai',
    body: () => ({ prompt: 'p', input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /OpenAI image edits does not take: it must have at most 50,000,000 pixels in total/,
  },
  {
    name: 'Stability image-to-image (style control)',
    operation: 'image-to-image',
    provider: 'stability',
    body: () => ({ prompt: 'p', input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /style control does not take: it must have at most 9,437,184 pixels in total/,
  },
  {
    name: 'Stability sketch-to-image',
    operation: 'sketch-to-image',
    provider: 'stability',
    body: () => ({ prompt: 'p', input_sketch_asset_url: hugeUrl }),
    field: 'input_sketch_asset_url',
    limit: /sketch control does not take: it must have at most 9,437,184 pixels in total/,
  },
  {
    name: 'Stability remove-background',
    operation: 'remove-background',
    provider: 'stability',
    body: () => ({ input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /background removal does not take: it must have at most 4,194,304 pixels in total/,
  },
  {
    name: 'Stability search-and-recolor',
    operation: 'search-and-recolor',
    provider: 'stability',
    body: () => ({ prompt: 'p', select_prompt: 's', input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /search and recolor does not take: it must have at most 9,437,184 pixels in total/,
  },
  {
    name: 'Stability upscale (fast)',
    operation: 'upscale',
    provider: 'stability',
    body: () => ({ input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit:
      /fast upscale does not take: each side must be at most 1,536 pixels; it must have at most 1,048,576 pixels/,
  },
  {
    name: 'Stability image-to-model (SPAR3D)',
    operation: 'image-to-model',
    provider: 'stability',
    body: () => ({ input_image_asset_urls: [hugeUrl] }),
    field: 'input_image_asset_urls\\[0\\]',
    limit: /SPAR3D does not take: it must have at most 4,194,304 pixels in total/,
  },
  {
    name: 'Recraft image-to-image',
    operation: 'image-to-image',
    provider: 'recraft',
    body: () => ({ prompt: 'p', input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit:
      /Recraft image to image does not take: each side must be between 256 and 4,096 pixels \(16 MP at most\)/,
  },
  {
    name: 'Recraft image-inpaint (image)',
    operation: 'image-inpaint',
    provider: 'recraft',
    body: () => ({ prompt: 'p', input_image_asset_url: hugeUrl, input_mask_asset_url: smallUrl }),
    field: 'input_image_asset_url',
    limit: /Recraft inpainting does not take: each side must be between 256 and 4,096 pixels/,
  },
  {
    name: 'Recraft image-inpaint (mask)',
    operation: 'image-inpaint',
    provider: 'recraft',
    body: () => ({ prompt: 'p', input_image_asset_url: smallUrl, input_mask_asset_url: hugeUrl }),
    field: 'input_mask_asset_url',
    limit: /Recraft inpainting does not take: each side must be between 256 and 4,096 pixels/,
  },
  {
    name: 'Recraft remove-background',
    operation: 'remove-background',
    provider: 'recraft',
    body: () => ({ input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /Recraft remove background does not take: each side must be between 256 and 4,096 pixels/,
  },
  {
    name: 'Recraft upscale (crisp)',
    operation: 'upscale',
    provider: 'recraft',
    body: () => ({ input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /Recraft crisp upscale does not take: each side must be between 32 and 4,096 pixels/,
  },
  {
    name: 'Flux image-to-image',
    operation: 'image-to-image',
    provider: 'flux',
    body: () => ({ prompt: 'p', input_image_asset_url: hugeUrl }),
    field: 'input_image_asset_url',
    limit: /Flux Kontext does not take: it must have at most 20,000,000 pixels in total/,
  },
  {
    name: 'Tripo image-to-model (one view)',
    operation: 'image-to-model',
    provider: 'tripo',
    body: () => ({ input_image_asset_urls: [hugeUrl] }),
    field: 'input_image_asset_urls\\[0\\]',
    limit:
      /Tripo image to model does not take: each side must be at most 6,000 pixels; it must have at most 36,000,000 pixels/,
  },
  {
    name: 'Tripo image-to-model (multiview, a bad back view; no view is uploaded)',
    operation: 'image-to-model',
    provider: 'tripo',
    body: () => ({ input_image_asset_urls: [smallUrl, null, hugeUrl, null] }),
    field: 'input_image_asset_urls\\[2\\]',
    limit: /Tripo image to model does not take: each side must be at most 6,000 pixels/,
  },
  {
    name: 'downscale (decoded in the BFF)',
    operation: 'downscale',
    provider: 'bff',
    body: () => ({ input_image_asset_url: hugeUrl, max_size_mb: 1, aspect_ratio_mode: 'original' }),
    field: 'input_image_asset_url',
    limit: /the downscale operation does not take: it must have at most 50,000,000 pixels in total/,
  },
];

describe('A 20000 x 20000 input fails the task before any provider call or decode', () => {
  it.each(CASES)('$name', async ({ name, operation, provider, body, field, limit }) => {
    const taskId = `limits-${name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`;
    const response = await stack.call(`/generation/${operation}`, {
      body: { task_id: taskId, provider, ...body() },
    });
    expect(response.status).toBe(202);
    const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
    const done = await stack.waitForTask(jobId);
    expect(done).toMatchObject({ status: 'failed', error_code: 'input_invalid', asset_url: null });
    expect(String(done.error)).toMatch(new RegExp(`^${field} is 20000x20000, which `));
    expect(String(done.error)).toMatch(limit);
    if (provider !== 'bff') expect(await stack.sandboxRequests(provider)).toEqual([]);
  });
});

// ---- the same file sent straight to each simulator ----

function multipart(parts: Record<string, string | Buffer>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([new Uint8Array(value)], { type: 'image/png' }), `${name}.png`);
  }
  return form;
}

async function post(path: string, init: { headers: Record<string, string>; body: FormData | string }) {
  const response = await fetch(`${stack.url}/__sandbox${path}`, { method: 'POST', ...init });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("Each simulator refuses the file on its header, in its provider's words", () => {
  it('OpenAI: 400 image_too_large for the image and for a mask', async () => {
    const small = await samplePng(64, 64);
    for (const [parts, param] of [
      [{ image: HUGE }, 'image'],
      [{ image: small, mask: HUGE }, 'mask'],
    ] as const) {
      const answer = await post('/openai/v1/images/edits', {
        headers: { authorization: 'Bearer sandbox' },
        body: multipart({ model: 'gpt-image-2.6-sunburst', prompt: 'p', ...parts }),
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({
        type: 'invalid_request_error',
        param,
        code: 'image_too_large',
        message: expect.stringContaining('20000x20000 (400000000 pixels)'),
      });
    }
  });

  it.each([
    ['/v2beta/stable-image/control/style', { prompt: 'p' }, 9_437_184],
    ['/v2beta/stable-image/control/sketch', { prompt: 'p' }, 9_437_184],
    ['/v2beta/stable-image/edit/search-and-recolor', { prompt: 'p', select_prompt: 's' }, 9_437_184],
    ['/v2beta/stable-image/edit/remove-background', {}, 4_194_304],
    ['/v2beta/stable-image/upscale/fast', {}, 1_048_576],
    ['/v2beta/3d/stable-point-aware-3d', {}, 4_194_304],
  ])('Stability %s: 400 bad_request naming the pixel limit', async (path, fields, maxPixels) => {
    const answer = await post(`/stability${path}`, {
      headers: { authorization: 'Bearer sandbox', accept: path.includes('/3d/') ? '*/*' : 'image/*' },
      body: multipart({ ...fields, image: HUGE }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ name: 'bad_request' });
    expect(answer.body.errors).toContain(`image: must have at most ${maxPixels} pixels (got 400000000)`);
  });

  it.each([
    ['imageToImage', { prompt: 'p', strength: '0.5', model: 'recraftv3' }, 'image'],
    ['removeBackground', {}, 'image'],
    ['crispUpscale', {}, 'image'],
  ])('Recraft %s: 400 invalid_image, at most 16 MP', async (operation, fields, name) => {
    const answer = await post(`/recraft/v1/images/${operation}`, {
      headers: { authorization: 'Bearer sandbox' },
      body: multipart({ ...fields, [name]: HUGE }),
    });
    expect(answer).toEqual({
      status: 400,
      body: { code: 'invalid_image', message: 'image: must be at most 16 MP' },
    });
  });

  it('Recraft inpaint: a mask claiming 20000 x 20000 is refused as invalid_mask', async () => {
    const answer = await post('/recraft/v1/images/inpaint', {
      headers: { authorization: 'Bearer sandbox' },
      body: multipart({ prompt: 'p', model: 'recraftv3', image: await samplePng(256, 256), mask: HUGE }),
    });
    expect(answer).toEqual({
      status: 400,
      body: { code: 'invalid_mask', message: 'mask: must be at most 16 MP' },
    });
  });

  it('Flux: 422 with a value error on input_image, larger than 20 megapixels', async () => {
    const answer = await post('/flux/v1/flux-kontext-pro', {
      headers: { 'x-key': 'sandbox', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'p', input_image: HUGE.toString('base64') }),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.detail).toEqual([
      expect.objectContaining({
        type: 'value_error',
        loc: ['body', 'input_image'],
        msg: 'Value error, image is larger than 20 megapixels',
      }),
    ]);
  });

  it('Tripo: POST /files answers 400 with code 1004, sides at most 6000 px', async () => {
    const answer = await post('/tripo/v3/files', {
      headers: { authorization: 'Bearer tsk_sandbox' },
      body: multipart({ file: HUGE }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: 1004,
      status: 'error',
      message: 'Image sides must be at most 6000 px (got 20000x20000)',
    });
  });
});

import { crc32, deflateSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage, drawPicture, imageSize } from '../../infra/local/sandbox/draw.ts';
import { encodeGif } from '../../infra/local/sandbox/openai/gif.ts';
import {
  OPENAI_RETIRED_MODELS,
  OPENAI_SERVED_MODELS,
  openaiSandboxSettings,
  openaiSimulator,
  resetOpenaiSandboxSettings,
} from '../../infra/local/sandbox/openai.ts';
import {
  type Fault,
  type SandboxContext,
  SandboxState,
  sandboxContext,
} from '../../infra/local/sandbox/sandbox.ts';

const BASE_URL = 'http://sandbox/__sandbox/openai';
const KEY = 'sk-sandbox-test-key-0123456789';

const SERVED = [
  'gpt-image-2',
  'gpt-image-2-2026-04-21',
  'gpt-image-2.5-sunburst',
  'gpt-image-2.5-sunburst-2026-09-08',
  'gpt-image-2.5-flare',
  'gpt-image-2.5-flare-2026-09-08',
  'gpt-image-2.6-sunburst',
  'gpt-image-2.6-flare',
] as const;
const RETIRED = [
  'dall-e-2',
  'dall-e-3',
  'gpt-image-1',
  'gpt-image-1-mini',
  'gpt-image-1.5',
  'gpt-image-1.5-2025-12-16',
  'chatgpt-image-latest',
] as const;
const GPT_IMAGE_2 = ['gpt-image-2', 'gpt-image-2-2026-04-21'] as const;
const GPT_IMAGE_2_5 = [
  'gpt-image-2.5-sunburst',
  'gpt-image-2.5-sunburst-2026-09-08',
  'gpt-image-2.5-flare',
  'gpt-image-2.5-flare-2026-09-08',
] as const;
const GPT_IMAGE_2_6 = ['gpt-image-2.6-sunburst', 'gpt-image-2.6-flare'] as const;

interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

interface ImagesBody {
  created: number;
  data: { b64_json?: string; url?: string }[];
  background?: string;
  output_format?: string;
  quality?: string;
  size?: string;
  usage?: {
    total_tokens: number;
    input_tokens: number;
    output_tokens: number;
    input_tokens_details: { text_tokens: number; image_tokens: number };
  };
}

interface ModelObject {
  id: string;
  object: string;
  created: number;
  owned_by: string;
  shutdown_date: string | null;
}

function sandbox(): { state: SandboxState; context: SandboxContext } {
  const state = new SandboxState();
  return { state, context: sandboxContext(state, BASE_URL) };
}

function generation(body: unknown, init: { key?: string | null; signal?: AbortSignal } = {}): Request {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = init.key === undefined ? KEY : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return new Request('http://sandbox/v1/images/generations', {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

type Upload = { bytes: Buffer; type: string; name: string };
type Part = string | Upload;

function edit(parts: [string, Part][], key: string | null = KEY): Request {
  const form = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new File([new Uint8Array(value.bytes)], value.name, { type: value.type }));
  }
  return new Request('http://sandbox/v1/images/edits', {
    method: 'POST',
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
    body: form,
  });
}

function get(path: string, key: string | null = KEY): Request {
  return new Request(`http://sandbox${path}`, {
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
}

async function send(request: Request, context: SandboxContext): Promise<Response> {
  const path = new URL(request.url).pathname;
  return openaiSimulator.handle(request, path, context);
}

async function images(response: Response): Promise<ImagesBody> {
  const text = await response.text();
  expect(response.status, text.slice(0, 300)).toBe(200);
  return JSON.parse(text) as ImagesBody;
}

async function failure(response: Response, status: number): Promise<ErrorBody> {
  const body = (await response.json()) as { error: ErrorBody };
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return body.error;
}

function decode(item: { b64_json?: string } | undefined): Buffer {
  expect(item?.b64_json).toBeTypeOf('string');
  return Buffer.from(item?.b64_json ?? '', 'base64');
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isPng = (bytes: Buffer): boolean => bytes.subarray(0, 8).equals(PNG_MAGIC);
const isJpeg = (bytes: Buffer): boolean => bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
const isWebp = (bytes: Buffer): boolean =>
  bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP';
const isGif = (bytes: Buffer): boolean => bytes.toString('latin1', 0, 6) === 'GIF89a';

/** Width, height and the alpha of the top-left and centre pixels, whatever the format. */
async function inspect(
  bytes: Buffer,
): Promise<{ width: number; height: number; cornerAlpha: number; centreAlpha: number }> {
  const decoded = isWebp(bytes) ? await decodeImage(bytes) : (await Jimp.read(bytes)).bitmap;
  const centre = (Math.floor(decoded.height / 2) * decoded.width + Math.floor(decoded.width / 2)) * 4;
  return {
    width: decoded.width,
    height: decoded.height,
    cornerAlpha: decoded.data[3] ?? -1,
    centreAlpha: decoded.data[centre + 3] ?? -1,
  };
}

/** A grey RGB PNG (colour type 2, no tRNS): a mask without alpha. */
function rgbPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const rows = Buffer.alloc((width * 3 + 1) * height, 0x80);
  for (let row = 0; row < height; row++) rows[row * (width * 3 + 1)] = 0;
  return Buffer.concat([
    PNG_MAGIC,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const png = async (seed: string, width: number, height: number): Promise<Upload> => ({
  bytes: await drawImage({ seed, width, height, format: 'png' }),
  type: 'image/png',
  name: `${seed}.png`,
});
const jpeg = async (seed: string, width: number, height: number): Promise<Upload> => ({
  bytes: await drawImage({ seed, width, height, format: 'jpeg' }),
  type: 'image/jpeg',
  name: `${seed}.jpg`,
});

const notFoundBody = (model: string): ErrorBody => ({
  message: `The model \`${model}\` does not exist or you do not have access to it.`,
  type: 'invalid_request_error',
  param: null,
  code: 'model_not_found',
});

afterEach(() => {
  resetOpenaiSandboxSettings();
});

describe('OpenAI sandbox: model catalogue', () => {
  it('exports the served and the shut-down ids', () => {
    expect(OPENAI_SERVED_MODELS.map((model) => model.id)).toEqual([...SERVED]);
    expect([...OPENAI_RETIRED_MODELS]).toEqual([...RETIRED]);
    expect(openaiSandboxSettings.retiredModelStatus).toBe(404);
  });
});

describe('OpenAI sandbox: shut-down and unknown models', () => {
  it('answers every shut-down id with 404 model_not_found on both endpoints', async () => {
    const { context } = sandbox();
    const input = await png('input', 64, 64);
    for (const model of RETIRED) {
      const generated = await send(generation({ model, prompt: 'a red cube' }), context);
      expect(await failure(generated, 404)).toEqual(notFoundBody(model));
      const edited = await send(
        edit([
          ['model', model],
          ['prompt', 'add a hat'],
          ['image', input],
        ]),
        context,
      );
      expect(await failure(edited, 404)).toEqual(notFoundBody(model));
    }
  });

  it('checks the model before anything else, DALL·E-only fields and broken uploads included', async () => {
    const { context } = sandbox();
    const dalle = await send(
      generation({ model: 'dall-e-3', prompt: 'x', style: 'vivid', response_format: 'url', quality: 'hd' }),
      context,
    );
    expect(await failure(dalle, 404)).toEqual(notFoundBody('dall-e-3'));
    const noPrompt = await send(generation({ model: 'gpt-image-1' }), context);
    expect(await failure(noPrompt, 404)).toEqual(notFoundBody('gpt-image-1'));
    const noImage = await send(
      edit([
        ['model', 'gpt-image-1'],
        ['prompt', 'x'],
      ]),
      context,
    );
    expect(await failure(noImage, 404)).toEqual(notFoundBody('gpt-image-1'));
  });

  it('answers the 400 variant for every shut-down id when the setting asks for it', async () => {
    const { context } = sandbox();
    openaiSandboxSettings.retiredModelStatus = 400;
    const input = await png('input', 64, 64);
    for (const model of RETIRED) {
      const generated = await send(generation({ model, prompt: 'a red cube' }), context);
      expect(await failure(generated, 400)).toEqual(notFoundBody(model));
      const edited = await send(
        edit([
          ['model', model],
          ['prompt', 'add a hat'],
          ['image', input],
        ]),
        context,
      );
      expect(await failure(edited, 400)).toEqual(notFoundBody(model));
    }
  });

  it('fails a request without `model`: the documented defaults (dall-e-2, gpt-image-1.5) are shut down', async () => {
    const { context } = sandbox();
    const generated = await send(generation({ prompt: 'a kite', size: '1024x1024' }), context);
    expect(await failure(generated, 404)).toEqual(notFoundBody('dall-e-2'));
    const nullModel = await send(generation({ model: null, prompt: 'a kite' }), context);
    expect(await failure(nullModel, 404)).toEqual(notFoundBody('dall-e-2'));
    const edited = await send(
      edit([
        ['prompt', 'a kite'],
        ['image', await png('in', 64, 64)],
      ]),
      context,
    );
    expect(await failure(edited, 404)).toEqual(notFoundBody('gpt-image-1.5'));

    openaiSandboxSettings.retiredModelStatus = 400;
    const variant = await send(generation({ prompt: 'a kite' }), context);
    expect(await failure(variant, 400)).toEqual(notFoundBody('dall-e-2'));
  });

  it('answers any other unknown id with 404 model_not_found, whatever the setting', async () => {
    const { context } = sandbox();
    openaiSandboxSettings.retiredModelStatus = 400;
    for (const model of ['gpt-image-3', 'dall-e-4', 'GPT-IMAGE-2', 'gpt-image-2.6', 'gpt-4o', '']) {
      const generated = await send(generation({ model, prompt: 'x' }), context);
      expect(await failure(generated, 404)).toEqual(notFoundBody(model));
      const edited = await send(
        edit([
          ['model', model],
          ['prompt', 'x'],
          ['image', await png('in', 32, 32)],
        ]),
        context,
      );
      expect(await failure(edited, 404)).toEqual(notFoundBody(model));
    }
  });

  it('refuses a `model` that is not a string', async () => {
    const { context } = sandbox();
    const error = await failure(await send(generation({ model: 2, prompt: 'x' }), context), 400);
    expect({ param: error.param, code: error.code }).toEqual({ param: 'model', code: 'invalid_type' });
  });
});

describe('OpenAI sandbox: served models', () => {
  it('generates with every served model: a real PNG of the asked size and the full response shape', async () => {
    const { context } = sandbox();
    for (const model of SERVED) {
      const response = await send(generation({ model, prompt: 'a lighthouse', size: '1024x1024' }), context);
      expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
      const body = await images(response);
      expect(Object.keys(body).sort()).toEqual([
        'background',
        'created',
        'data',
        'output_format',
        'quality',
        'size',
        'usage',
      ]);
      expect(body).toMatchObject({
        background: 'opaque',
        output_format: 'png',
        quality: 'high',
        size: '1024x1024',
      });
      expect(body.created).toBeCloseTo(Date.now() / 1000, -1);
      expect(body.data).toHaveLength(1);
      expect(Object.keys(body.data[0] ?? {})).toEqual(['b64_json']);
      const bytes = decode(body.data[0]);
      expect(isPng(bytes), model).toBe(true);
      expect(await imageSize(bytes)).toEqual({ width: 1024, height: 1024 });
      expect(body.usage?.output_tokens).toBeGreaterThan(0);
      expect(body.usage?.total_tokens).toBe(
        (body.usage?.input_tokens ?? 0) + (body.usage?.output_tokens ?? 0),
      );
    }
  });

  it('edits with every served model: a real WebP of the asked size, the input counted in usage', async () => {
    const { context } = sandbox();
    const input = await png('edit input', 96, 64);
    for (const model of SERVED) {
      const body = await images(
        await send(
          edit([
            ['model', model],
            ['prompt', 'add a hat'],
            ['size', '1536x1024'],
            ['output_format', 'webp'],
            ['image', input],
          ]),
          context,
        ),
      );
      expect(body).toMatchObject({ output_format: 'webp', size: '1536x1024', background: 'opaque' });
      const bytes = decode(body.data[0]);
      expect(isWebp(bytes), model).toBe(true);
      const decoded = await decodeImage(bytes);
      expect({ width: decoded.width, height: decoded.height }).toEqual({ width: 1536, height: 1024 });
      expect(body.usage?.input_tokens_details.image_tokens).toBeGreaterThan(0);
    }
  });

  it('is deterministic, and a different prompt, model or index gives a different picture', async () => {
    const { context } = sandbox();
    const ask = async (body: Record<string, unknown>) =>
      images(await send(generation({ size: '256x256', ...body }), context));
    const first = await ask({ model: 'gpt-image-2', prompt: 'a red cube', n: 2 });
    const [a, b] = first.data.map(decode);
    if (!a || !b) throw new Error('two images expected');
    expect(a.equals(b)).toBe(false);
    const again = await ask({ model: 'gpt-image-2', prompt: 'a red cube' });
    expect(decode(again.data[0]).equals(a)).toBe(true);
    const otherPrompt = await ask({ model: 'gpt-image-2', prompt: 'a blue sphere' });
    expect(decode(otherPrompt.data[0]).equals(a)).toBe(false);
    const otherModel = await ask({ model: 'gpt-image-2-2026-04-21', prompt: 'a red cube' });
    expect(decode(otherModel.data[0]).equals(a)).toBe(false);
  });

  it('returns n images in one response, up to 10', async () => {
    const { context } = sandbox();
    const ten = await images(
      await send(generation({ model: 'gpt-image-2', prompt: 'tiles', n: 10, size: '256x256' }), context),
    );
    expect(ten.data).toHaveLength(10);
    const decoded = ten.data.map(decode);
    expect(new Set(decoded.map((bytes) => bytes.toString('base64'))).size).toBe(10);
    for (const bytes of decoded) expect(await imageSize(bytes)).toEqual({ width: 256, height: 256 });

    const three = await images(
      await send(
        generation({ model: 'gpt-image-2.6-flare', prompt: 'tiles', n: 3, size: '1024x640' }),
        context,
      ),
    );
    expect(three.data).toHaveLength(3);
    for (const item of three.data)
      expect(await imageSize(decode(item))).toEqual({ width: 1024, height: 640 });

    const edited = await images(
      await send(
        edit([
          ['model', 'gpt-image-2.5-sunburst'],
          ['prompt', 'variations'],
          ['n', '2'],
          ['size', '1024x1024'],
          ['image', await png('n input', 64, 64)],
        ]),
        context,
      ),
    );
    expect(edited.data).toHaveLength(2);
    expect(decode(edited.data[0]).equals(decode(edited.data[1]))).toBe(false);
  });

  it('takes every quality of each family and reports `auto` as high', async () => {
    const { context } = sandbox();
    const cases: [string, string, string][] = [];
    for (const model of GPT_IMAGE_2) {
      for (const quality of ['low', 'medium', 'high']) cases.push([model, quality, quality]);
      cases.push([model, 'auto', 'high']);
    }
    for (const model of [...GPT_IMAGE_2_5, ...GPT_IMAGE_2_6]) {
      for (const quality of ['low', 'medium', 'high', 'xhigh', 'max']) cases.push([model, quality, quality]);
      cases.push([model, 'auto', 'high']);
    }
    const tokens: Record<string, number> = {};
    for (const [model, quality, reported] of cases) {
      const size = model.startsWith('gpt-image-2.') ? '1024x640' : '256x256';
      const body = await images(await send(generation({ model, prompt: 'q', quality, size }), context));
      expect(body.quality, `${model} ${quality}`).toBe(reported);
      if (model === 'gpt-image-2.6-flare') tokens[quality] = body.usage?.output_tokens ?? 0;
    }
    expect(tokens.low).toBeLessThan(tokens.medium ?? 0);
    expect(tokens.medium).toBeLessThan(tokens.high ?? 0);
    expect(tokens.high).toBeLessThan(tokens.xhigh ?? 0);
    expect(tokens.xhigh).toBeLessThan(tokens.max ?? 0);
  });

  it('takes `complexity` on 2.6 (low, medium, high; default high), and it changes the picture', async () => {
    const { context } = sandbox();
    for (const model of GPT_IMAGE_2_6) {
      const pictures: Record<string, Buffer> = {};
      for (const complexity of ['low', 'medium', 'high', undefined]) {
        const body = await images(
          await send(generation({ model, prompt: 'a city', size: '1024x640', complexity }), context),
        );
        pictures[complexity ?? 'default'] = decode(body.data[0]);
      }
      expect(pictures.low?.equals(pictures.high ?? Buffer.alloc(0))).toBe(false);
      expect(pictures.medium?.equals(pictures.high ?? Buffer.alloc(0))).toBe(false);
      expect(pictures.default?.equals(pictures.high ?? Buffer.alloc(0))).toBe(true);
    }
  });

  it('encodes JPEG and WebP with output_compression 0–100, on every family', async () => {
    const { context } = sandbox();
    for (const model of ['gpt-image-2', 'gpt-image-2.5-flare', 'gpt-image-2.6-sunburst']) {
      for (const [format, compression] of [
        ['jpeg', 0],
        ['jpeg', 100],
        ['webp', 0],
        ['webp', 55],
      ] as const) {
        const body = await images(
          await send(
            generation({
              model,
              prompt: 'a fox',
              size: '1024x640',
              output_format: format,
              output_compression: compression,
            }),
            context,
          ),
        );
        expect(body.output_format).toBe(format);
        const bytes = decode(body.data[0]);
        expect(format === 'jpeg' ? isJpeg(bytes) : isWebp(bytes), `${model} ${format}`).toBe(true);
        expect(await inspect(bytes)).toMatchObject({ width: 1024, height: 640 });
      }
    }
  });

  it('answers a GIF on 2.6, transparent when asked', async () => {
    const { context } = sandbox();
    for (const model of GPT_IMAGE_2_6) {
      const opaque = await images(
        await send(generation({ model, prompt: 'a badge', size: '1024x640', output_format: 'gif' }), context),
      );
      expect(opaque).toMatchObject({ output_format: 'gif', background: 'opaque' });
      const opaqueBytes = decode(opaque.data[0]);
      expect(isGif(opaqueBytes)).toBe(true);
      expect(await inspect(opaqueBytes)).toEqual({
        width: 1024,
        height: 640,
        cornerAlpha: 255,
        centreAlpha: 255,
      });

      const clear = await images(
        await send(
          generation({
            model,
            prompt: 'a badge',
            size: '1024x640',
            output_format: 'gif',
            background: 'transparent',
            output_compression: 100,
          }),
          context,
        ),
      );
      expect(clear).toMatchObject({ output_format: 'gif', background: 'transparent' });
      expect(await inspect(decode(clear.data[0]))).toEqual({
        width: 1024,
        height: 640,
        cornerAlpha: 0,
        centreAlpha: 255,
      });
    }
  });

  it('keeps a transparent background in PNG and WebP on every family', async () => {
    const { context } = sandbox();
    for (const model of ['gpt-image-2', 'gpt-image-2.5-sunburst', 'gpt-image-2.6-flare']) {
      for (const format of ['png', 'webp'] as const) {
        const body = await images(
          await send(
            generation({
              model,
              prompt: 'a sticker',
              size: '1024x640',
              background: 'transparent',
              output_format: format,
            }),
            context,
          ),
        );
        expect(body).toMatchObject({ background: 'transparent', output_format: format });
        expect(await inspect(decode(body.data[0])), `${model} ${format}`).toEqual({
          width: 1024,
          height: 640,
          cornerAlpha: 0,
          centreAlpha: 255,
        });
      }
      const opaque = await images(
        await send(generation({ model, prompt: 'a wall', size: '1024x640', background: 'opaque' }), context),
      );
      expect(opaque.background).toBe('opaque');
      expect((await inspect(decode(opaque.data[0]))).cornerAlpha).toBe(255);
    }
  });

  it('takes moderation, user and safety_identifier on generations', async () => {
    const { context } = sandbox();
    for (const moderation of ['low', 'auto']) {
      await images(
        await send(
          generation({
            model: 'gpt-image-2.6-flare',
            prompt: 'x',
            size: '1024x640',
            moderation,
            user: 'user-1',
            safety_identifier: 'hash-1',
          }),
          context,
        ),
      );
    }
  });

  it('accepts a prompt of exactly 32000 characters', async () => {
    const { context } = sandbox();
    await images(
      await send(generation({ model: 'gpt-image-2', prompt: 'x'.repeat(32000), size: '256x256' }), context),
    );
  });
});

describe('OpenAI sandbox: GIF encoder', () => {
  it('round-trips every pixel through a GIF decoder: 6x6x6 colour cube, alpha below 128 transparent', async () => {
    const level = (value: number | undefined): number => Math.round((value ?? 0) / 51) * 51;
    for (const [width, height, transparent] of [
      [1, 1, false],
      [333, 517, false],
      // Large enough to fill the 4096-entry LZW table several times over.
      [1024, 640, true],
    ] as const) {
      const picture = await drawPicture({ seed: `gif ${width}`, width, height, transparent });
      const gif = encodeGif(picture.bitmap, transparent);
      expect(isGif(gif)).toBe(true);
      const decoded = (await Jimp.read(gif)).bitmap;
      expect({ width: decoded.width, height: decoded.height }).toEqual({ width, height });
      let mismatches = 0;
      let clear = 0;
      for (let offset = 0; offset < width * height * 4; offset += 4) {
        const source = picture.bitmap.data;
        if (transparent && (source[offset + 3] ?? 255) < 128) {
          clear++;
          if (decoded.data[offset + 3] !== 0) mismatches++;
          continue;
        }
        const expected = [level(source[offset]), level(source[offset + 1]), level(source[offset + 2]), 255];
        if (expected.some((value, channel) => decoded.data[offset + channel] !== value)) mismatches++;
      }
      expect(mismatches, `${width}x${height}`).toBe(0);
      if (transparent) expect(clear).toBeGreaterThan(0);
    }
    expect(() => encodeGif({ width: 0, height: 4, data: new Uint8Array(0) }, false)).toThrow(RangeError);
  });
});

describe('OpenAI sandbox: sizes', () => {
  it('resolves `auto` to 1024x1024 on generations and to the closest standard size on edits', async () => {
    const { context } = sandbox();
    const generated = await images(
      await send(generation({ model: 'gpt-image-2.6-sunburst', prompt: 'x', size: 'auto' }), context),
    );
    expect(generated.size).toBe('1024x1024');
    const defaulted = await images(
      await send(generation({ model: 'gpt-image-2.5-flare', prompt: 'x' }), context),
    );
    expect(defaulted.size).toBe('1024x1024');
    for (const [width, height, expected] of [
      [300, 200, '1536x1024'],
      [120, 200, '1024x1536'],
      [90, 100, '1024x1024'],
    ] as const) {
      const body = await images(
        await send(
          edit([
            ['model', 'gpt-image-2.6-sunburst'],
            ['prompt', 'x'],
            ['image', await png(`auto ${width}`, width, height)],
          ]),
          context,
        ),
      );
      expect(body.size).toBe(expected);
      const drawn = await imageSize(decode(body.data[0]));
      expect(`${drawn?.width}x${drawn?.height}`).toBe(expected);
    }
  });

  it('accepts custom sizes that meet every rule, and draws them at that size', async () => {
    const { context } = sandbox();
    const accepted: [string, string][] = [
      // gpt-image-2 has no pixel bounds (documented: multiples of 16, 1:3..3:1, at most 3840x2160).
      ['gpt-image-2', '256x256'],
      ['gpt-image-2', '512x512'],
      ['gpt-image-2-2026-04-21', '800x800'],
      ['gpt-image-2', '1536x864'],
      ['gpt-image-2', '3072x1024'],
      ['gpt-image-2', '1024x3072'],
      ['gpt-image-2', '2560x1440'],
      // 2.5 and 2.6: also 655,360..8,294,400 pixels; 1024x640 is the minimum exactly.
      ['gpt-image-2.5-sunburst', '1024x640'],
      ['gpt-image-2.5-flare-2026-09-08', '640x1024'],
      ['gpt-image-2.5-flare', '1280x720'],
      ['gpt-image-2.6-flare', '1792x1024'],
      ['gpt-image-2.6-sunburst', '1024x1792'],
      ['gpt-image-2.6-flare', '2160x3840'],
      ['gpt-image-2.5-sunburst', '3840x2160'],
    ];
    for (const [model, size] of accepted) {
      const body = await images(await send(generation({ model, prompt: 'sized', size }), context));
      expect(body.size).toBe(size);
      const [width, height] = size.split('x').map(Number);
      expect(await imageSize(decode(body.data[0])), `${model} ${size}`).toEqual({ width, height });
    }
    const edited = await images(
      await send(
        edit([
          ['model', 'gpt-image-2.6-sunburst'],
          ['prompt', 'x'],
          ['size', '1536x864'],
          ['image', await png('custom edit', 64, 64)],
        ]),
        context,
      ),
    );
    expect(await imageSize(decode(edited.data[0]))).toEqual({ width: 1536, height: 864 });
  });

  it('refuses sizes that break a rule, naming `size`', async () => {
    const { context } = sandbox();
    const refused: [readonly string[], string, RegExp][] = [
      [SERVED, '1000x1000', /multiples of 16/],
      [SERVED, '1024x1000', /multiples of 16/],
      [SERVED, '3088x1024', /aspect ratio/],
      [SERVED, '1024x3088', /aspect ratio/],
      [SERVED, '3856x2160', /3840x2160/],
      [SERVED, '2176x2176', /3840x2160/],
      [SERVED, '2400x2400', /3840x2160/],
      [SERVED, '4096x2048', /3840x2160/],
      [[...GPT_IMAGE_2_5, ...GPT_IMAGE_2_6], '512x512', /655,360 and 8,294,400 pixels/],
      [[...GPT_IMAGE_2_5, ...GPT_IMAGE_2_6], '800x800', /655,360 and 8,294,400 pixels/],
      [[...GPT_IMAGE_2_5, ...GPT_IMAGE_2_6], '1024x624', /655,360 and 8,294,400 pixels/],
      [[...GPT_IMAGE_2_5, ...GPT_IMAGE_2_6], '256x256', /655,360 and 8,294,400 pixels/],
      // DALL·E-only sizes that are not valid custom sizes.
      [SERVED, '1792x1000', /multiples of 16/],
      [SERVED, 'big', /Supported values/],
      [SERVED, '1024', /Supported values/],
      [SERVED, '1024x', /Supported values/],
      [SERVED, '0x1024', /Supported values/],
      [SERVED, '1024X1024', /Supported values/],
      [SERVED, '-16x16', /Supported values/],
      [SERVED, ' 1024x1024', /Supported values/],
    ];
    for (const [models, size, message] of refused) {
      for (const model of models) {
        const error = await failure(await send(generation({ model, prompt: 'x', size }), context), 400);
        expect({ param: error.param, code: error.code }, `${model} ${size}`).toEqual({
          param: 'size',
          code: 'invalid_value',
        });
        expect(error.message).toMatch(message);
      }
    }
    // No size within the side limits can exceed the pixel maximum: 3840 x 2160 is 8,294,400 exactly.
    expect(3840 * 2160).toBe(8_294_400);
    const typed = await failure(
      await send(generation({ model: 'gpt-image-2', prompt: 'x', size: 1024 }), context),
      400,
    );
    expect({ param: typed.param, code: typed.code }).toEqual({ param: 'size', code: 'invalid_type' });
    const edited = await failure(
      await send(
        edit([
          ['model', 'gpt-image-2.6-flare'],
          ['prompt', 'x'],
          ['size', '512x512'],
          ['image', await png('in', 64, 64)],
        ]),
        context,
      ),
      400,
    );
    expect({ param: edited.param, code: edited.code }).toEqual({ param: 'size', code: 'invalid_value' });
  });
});

describe('OpenAI sandbox: edits', () => {
  it('edits a PNG sent as `image` with a same-size mask, and records the multipart request', async () => {
    const { context, state } = sandbox();
    const input = await png('wide input', 300, 200);
    const mask = await png('mask', 300, 200);
    const body = await images(
      await send(
        edit([
          ['model', 'gpt-image-2.6-sunburst'],
          ['prompt', 'add a hat'],
          ['quality', 'low'],
          ['input_fidelity', 'high'],
          ['image', input],
          ['mask', mask],
        ]),
        context,
      ),
    );
    expect(body).toMatchObject({ size: '1536x1024', quality: 'low' });
    const first = decode(body.data[0]);
    expect(isPng(first)).toBe(true);
    expect(await imageSize(first)).toEqual({ width: 1536, height: 1024 });

    const recorded = state.requests[0];
    expect(recorded?.path).toBe('/v1/images/edits');
    expect(recorded?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(recorded?.fields).toEqual({
      model: 'gpt-image-2.6-sunburst',
      prompt: 'add a hat',
      quality: 'low',
      input_fidelity: 'high',
    });
    expect(recorded?.files.image).toEqual([
      { filename: 'wide input.png', type: 'image/png', size: input.bytes.length },
    ]);
    expect(recorded?.files.mask?.[0]?.type).toBe('image/png');
  });

  it('edits JPEGs sent as `image[]`, and a different input gives a different picture', async () => {
    const { context } = sandbox();
    const run = async (seed: string) =>
      images(
        await send(
          edit([
            ['model', 'gpt-image-2.5-flare'],
            ['prompt', 'make it night'],
            ['input_fidelity', 'low'],
            ['image[]', await jpeg(seed, 120, 200)],
            ['image[]', await jpeg('second reference', 64, 64)],
          ]),
          context,
        ),
      );
    const a = await run('tall input A');
    const b = await run('tall input B');
    expect(a.size).toBe('1024x1536');
    const bytesA = decode(a.data[0]);
    expect(await imageSize(bytesA)).toEqual({ width: 1024, height: 1536 });
    expect(bytesA.equals(decode(b.data[0]))).toBe(false);
  });

  it('accepts a WebP input, sizing `auto` from it', async () => {
    const { context } = sandbox();
    const picture = await drawPicture({ seed: 'webp input', width: 200, height: 120 });
    const webp = await encodeImage(picture.bitmap, 'webp');
    const body = await images(
      await send(
        edit([
          ['model', 'gpt-image-2'],
          ['prompt', 'upscale it'],
          ['image', { bytes: webp, type: 'image/webp', name: 'dot.webp' }],
        ]),
        context,
      ),
    );
    expect(body.size).toBe('1536x1024');
    expect(await imageSize(decode(body.data[0]))).toEqual({ width: 1536, height: 1024 });
  });

  it('takes up to 16 input images and refuses a 17th', async () => {
    const { context } = sandbox();
    const small = await png('many', 16, 16);
    const parts = (count: number): [string, Part][] => [
      ['model', 'gpt-image-2'],
      ['prompt', 'collage'],
      ['size', '256x256'],
      ...Array.from({ length: count }, (): [string, Part] => ['image[]', small]),
    ];
    const body = await images(await send(edit(parts(16)), context));
    expect(body.usage?.input_tokens_details.image_tokens).toBe(16 * 323);
    const error = await failure(await send(edit(parts(17)), context), 400);
    expect({ param: error.param, code: error.code }).toEqual({
      param: 'image[]',
      code: 'array_above_max_length',
    });
  });

  it('rejects uploads whose type or content is wrong', async () => {
    const { context } = sandbox();
    const real = await png('input', 64, 64);
    const jpegBytes = await jpeg('input', 64, 64);
    const opaqueMask = { ...(await jpeg('opaque', 64, 64)) };
    const gif = {
      bytes: Buffer.from('R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=', 'base64'),
      type: 'image/gif',
      name: 'dot.gif',
    };
    const cases: { parts: [string, Part][]; param: string; code: string }[] = [
      {
        parts: [['image', { ...jpegBytes, type: 'image/png', name: 'lie.png' }]],
        param: 'image',
        code: 'mimetype_mismatch',
      },
      {
        parts: [['image', { bytes: Buffer.from('not a picture'), type: 'image/png', name: 'x.png' }]],
        param: 'image',
        code: 'invalid_image_file',
      },
      {
        parts: [['image', { ...real, type: 'application/octet-stream' }]],
        param: 'image',
        code: 'unsupported_file_mimetype',
      },
      { parts: [['image', gif]], param: 'image', code: 'unsupported_file_mimetype' },
      {
        parts: [
          ['image', real],
          ['mask', await png('mask', 32, 32)],
        ],
        param: 'mask',
        code: 'invalid_image_format',
      },
      {
        parts: [
          ['image', real],
          ['mask', opaqueMask],
        ],
        param: 'mask',
        code: 'unsupported_file_mimetype',
      },
      { parts: [], param: 'image', code: 'missing_required_parameter' },
      { parts: [['image', 'not a file']], param: 'image', code: 'invalid_type' },
      {
        parts: [
          ['image', real],
          ['n', 'two'],
        ],
        param: 'n',
        code: 'invalid_type',
      },
      {
        parts: [
          ['image', real],
          ['input_fidelity', 'medium'],
        ],
        param: 'input_fidelity',
        code: 'invalid_value',
      },
      {
        parts: [
          ['image', real],
          ['moderation', 'low'],
        ],
        param: 'moderation',
        code: 'unknown_parameter',
      },
      {
        parts: [
          ['image', real],
          ['style', 'vivid'],
        ],
        param: 'style',
        code: 'unknown_parameter',
      },
      {
        parts: [
          ['image', real],
          ['response_format', 'b64_json'],
        ],
        param: 'response_format',
        code: 'unknown_parameter',
      },
      {
        parts: [
          ['image', real],
          ['quality', 'standard'],
        ],
        param: 'quality',
        code: 'invalid_value',
      },
      {
        parts: [
          ['image', real],
          ['attachment', real],
        ],
        param: 'attachment',
        code: 'unknown_parameter',
      },
    ];
    for (const { parts, param, code } of cases) {
      const error = await failure(
        await send(edit([['model', 'gpt-image-2.6-sunburst'], ['prompt', 'edit it'], ...parts]), context),
        400,
      );
      expect({ param: error.param, code: error.code, type: error.type }, `${param} ${code}`).toEqual({
        param,
        code,
        type: 'invalid_request_error',
      });
    }
  });

  it('refuses a mask without alpha', async () => {
    const { context } = sandbox();
    const error = await failure(
      await send(
        edit([
          ['model', 'gpt-image-2'],
          ['prompt', 'x'],
          ['image', await png('in', 8, 8)],
          ['mask', { bytes: rgbPng(8, 8), type: 'image/png', name: 'mask.png' }],
        ]),
        context,
      ),
      400,
    );
    expect({ param: error.param, code: error.code }).toEqual({ param: 'mask', code: 'invalid_image_format' });
    expect(error.message).toContain('missing alpha channel');
  });
});

describe('OpenAI sandbox: validation', () => {
  it('refuses the DALL·E-only values and fields on every served model', async () => {
    const { context } = sandbox();
    for (const model of SERVED) {
      const cases: { body: Record<string, unknown>; param: string; code: string }[] = [
        { body: { quality: 'standard' }, param: 'quality', code: 'invalid_value' },
        { body: { quality: 'hd' }, param: 'quality', code: 'invalid_value' },
        { body: { style: 'vivid' }, param: 'style', code: 'unknown_parameter' },
        { body: { style: 'natural' }, param: 'style', code: 'unknown_parameter' },
        { body: { response_format: 'b64_json' }, param: 'response_format', code: 'unknown_parameter' },
        { body: { response_format: 'url' }, param: 'response_format', code: 'unknown_parameter' },
      ];
      for (const { body, param, code } of cases) {
        const error = await failure(await send(generation({ model, prompt: 'x', ...body }), context), 400);
        expect(
          { param: error.param, code: error.code, type: error.type },
          `${model} ${JSON.stringify(body)}`,
        ).toEqual({ param, code, type: 'invalid_request_error' });
      }
    }
  });

  it('refuses xhigh and max on gpt-image-2, which stops at high', async () => {
    const { context } = sandbox();
    for (const model of GPT_IMAGE_2) {
      for (const quality of ['xhigh', 'max']) {
        const error = await failure(await send(generation({ model, prompt: 'x', quality }), context), 400);
        expect({ param: error.param, code: error.code }).toEqual({ param: 'quality', code: 'invalid_value' });
        expect(error.message).toBe(
          `Invalid value: '${quality}'. Supported values are: 'low', 'medium', 'high', and 'auto'.`,
        );
      }
    }
  });

  it('takes `complexity` on 2.6 only', async () => {
    const { context } = sandbox();
    for (const model of [...GPT_IMAGE_2, ...GPT_IMAGE_2_5]) {
      const error = await failure(
        await send(generation({ model, prompt: 'x', complexity: 'low' }), context),
        400,
      );
      expect({ param: error.param, code: error.code }, model).toEqual({
        param: 'complexity',
        code: 'unknown_parameter',
      });
    }
    for (const model of GPT_IMAGE_2_6) {
      const error = await failure(
        await send(generation({ model, prompt: 'x', complexity: 'extreme' }), context),
        400,
      );
      expect({ param: error.param, code: error.code }).toEqual({
        param: 'complexity',
        code: 'invalid_value',
      });
    }
    const input = await png('in', 32, 32);
    const refusedEdit = await failure(
      await send(
        edit([
          ['model', 'gpt-image-2.5-sunburst'],
          ['prompt', 'x'],
          ['complexity', 'high'],
          ['image', input],
        ]),
        context,
      ),
      400,
    );
    expect({ param: refusedEdit.param, code: refusedEdit.code }).toEqual({
      param: 'complexity',
      code: 'unknown_parameter',
    });
    const acceptedEdit = await images(
      await send(
        edit([
          ['model', 'gpt-image-2.6-sunburst'],
          ['prompt', 'x'],
          ['complexity', 'low'],
          ['image', input],
        ]),
        context,
      ),
    );
    expect(await imageSize(decode(acceptedEdit.data[0]))).toEqual({ width: 1024, height: 1024 });
  });

  it('refuses a transparent background with JPEG on every model', async () => {
    const { context } = sandbox();
    for (const model of SERVED) {
      const error = await failure(
        await send(
          generation({ model, prompt: 'x', background: 'transparent', output_format: 'jpeg' }),
          context,
        ),
        400,
      );
      expect(error).toEqual({
        message: 'Transparent background is not supported for JPEG output format',
        type: 'invalid_request_error',
        param: 'background',
        code: 'invalid_value',
      });
    }
  });

  it('takes gif on 2.6 only and refuses svg as not simulated', async () => {
    const { context } = sandbox();
    for (const model of [...GPT_IMAGE_2, ...GPT_IMAGE_2_5]) {
      for (const format of ['gif', 'svg']) {
        const error = await failure(
          await send(generation({ model, prompt: 'x', output_format: format }), context),
          400,
        );
        expect({ param: error.param, code: error.code }, `${model} ${format}`).toEqual({
          param: 'output_format',
          code: 'invalid_value',
        });
        expect(error.message).toBe(
          `Invalid value: '${format}'. Supported values are: 'png', 'jpeg', and 'webp'.`,
        );
      }
    }
    for (const model of GPT_IMAGE_2_6) {
      const svg = await failure(
        await send(generation({ model, prompt: 'x', output_format: 'svg' }), context),
        400,
      );
      expect({ param: svg.param, code: svg.code }).toEqual({
        param: 'output_format',
        code: 'unsupported_in_sandbox',
      });
      const svgObject = await failure(
        await send(generation({ model, prompt: 'x', svg: { model: 'gpt-5.5' } }), context),
        400,
      );
      expect(svgObject.code).toBe('unsupported_in_sandbox');
      const bmp = await failure(
        await send(generation({ model, prompt: 'x', output_format: 'bmp' }), context),
        400,
      );
      expect(bmp.message).toBe(
        "Invalid value: 'bmp'. Supported values are: 'png', 'jpeg', 'webp', and 'gif'.",
      );
    }
    const svgEdit = await failure(
      await send(
        edit([
          ['model', 'gpt-image-2.6-sunburst'],
          ['prompt', 'x'],
          ['output_format', 'svg'],
          ['image', await png('in', 32, 32)],
        ]),
        context,
      ),
      400,
    );
    expect({ param: svgEdit.param, code: svgEdit.code }).toEqual({
      param: 'output_format',
      code: 'invalid_value',
    });
    const gifEdit = await images(
      await send(
        edit([
          ['model', 'gpt-image-2.6-flare'],
          ['prompt', 'x'],
          ['output_format', 'gif'],
          ['size', '1024x640'],
          ['image', await png('in', 32, 32)],
        ]),
        context,
      ),
    );
    expect(isGif(decode(gifEdit.data[0]))).toBe(true);
    const svgElsewhere = await failure(
      await send(generation({ model: 'gpt-image-2', prompt: 'x', svg: { model: 'gpt-5.5' } }), context),
      400,
    );
    expect({ param: svgElsewhere.param, code: svgElsewhere.code }).toEqual({
      param: 'svg',
      code: 'unknown_parameter',
    });
  });

  it('rejects invalid generation requests naming the offending parameter', async () => {
    const { context } = sandbox();
    const model = 'gpt-image-2.6-flare';
    const cases: { body: Record<string, unknown>; param: string; code: string }[] = [
      { body: {}, param: 'prompt', code: 'missing_required_parameter' },
      { body: { prompt: '' }, param: 'prompt', code: 'empty_string' },
      { body: { prompt: 42 }, param: 'prompt', code: 'invalid_type' },
      { body: { prompt: 'x'.repeat(32001) }, param: 'prompt', code: 'string_above_max_length' },
      { body: { prompt: 'x', n: 11 }, param: 'n', code: 'integer_above_max_value' },
      { body: { prompt: 'x', n: 0 }, param: 'n', code: 'integer_below_min_value' },
      { body: { prompt: 'x', n: 1.5 }, param: 'n', code: 'invalid_type' },
      { body: { prompt: 'x', n: '2' }, param: 'n', code: 'invalid_type' },
      { body: { prompt: 'x', quality: 'ultra' }, param: 'quality', code: 'invalid_value' },
      { body: { prompt: 'x', background: 'none' }, param: 'background', code: 'invalid_value' },
      {
        body: { prompt: 'x', output_format: 'png', output_compression: 50 },
        param: 'output_compression',
        code: 'invalid_value',
      },
      {
        body: { prompt: 'x', output_format: 'gif', output_compression: 50 },
        param: 'output_compression',
        code: 'invalid_value',
      },
      {
        body: { prompt: 'x', output_format: 'jpeg', output_compression: 101 },
        param: 'output_compression',
        code: 'integer_above_max_value',
      },
      {
        body: { prompt: 'x', output_format: 'webp', output_compression: -1 },
        param: 'output_compression',
        code: 'integer_below_min_value',
      },
      { body: { prompt: 'x', moderation: 'high' }, param: 'moderation', code: 'invalid_value' },
      { body: { prompt: 'x', input_fidelity: 'high' }, param: 'input_fidelity', code: 'unknown_parameter' },
      { body: { prompt: 'x', stream: true }, param: 'stream', code: 'unsupported_in_sandbox' },
      { body: { prompt: 'x', stream: 'yes' }, param: 'stream', code: 'invalid_type' },
      { body: { prompt: 'x', partial_images: 4 }, param: 'partial_images', code: 'integer_above_max_value' },
      { body: { prompt: 'x', user: 7 }, param: 'user', code: 'invalid_type' },
      { body: { prompt: 'x', colour: 'red' }, param: 'colour', code: 'unknown_parameter' },
    ];
    for (const { body, param, code } of cases) {
      const error = await failure(await send(generation({ model, ...body }), context), 400);
      expect(
        { param: error.param, code: error.code, type: error.type },
        JSON.stringify(body).slice(0, 80),
      ).toEqual({ param, code, type: 'invalid_request_error' });
    }
  });

  it('answers a body that is not JSON, or a generation sent as multipart, with 400', async () => {
    const { context } = sandbox();
    const error = await failure(await send(generation('{"prompt": '), context), 400);
    expect(error.message).toContain('could not parse the JSON body');
    expect(error.param).toBeNull();
    const form = new FormData();
    form.append('model', 'gpt-image-2');
    form.append('prompt', 'x');
    const multipart = new Request('http://sandbox/v1/images/generations', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
      body: form,
    });
    expect((await failure(await send(multipart, context), 400)).message).toContain('JSON');
    const jsonEdit = new Request('http://sandbox/v1/images/edits', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-2', prompt: 'x' }),
    });
    expect((await failure(await send(jsonEdit, context), 400)).message).toContain('multipart/form-data');
  });
});

describe('OpenAI sandbox: models endpoint', () => {
  it('lists the served image models as OpenAI model objects with shutdown_date null', async () => {
    const { context } = sandbox();
    const response = await send(get('/v1/models'), context);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    const body = (await response.json()) as { object: string; data: ModelObject[] };
    expect(body.object).toBe('list');
    expect(body.data.map((model) => model.id)).toEqual([...SERVED]);
    for (const model of body.data) {
      expect(Object.keys(model).sort()).toEqual(['created', 'id', 'object', 'owned_by', 'shutdown_date']);
      expect(model).toMatchObject({ object: 'model', owned_by: 'system', shutdown_date: null });
      expect(Number.isInteger(model.created)).toBe(true);
    }
  });

  it('retrieves each served model and answers shut-down or unknown ids with 404 model_not_found', async () => {
    const { context } = sandbox();
    for (const id of SERVED) {
      const response = await send(get(`/v1/models/${id}`), context);
      expect(response.status).toBe(200);
      const model = (await response.json()) as ModelObject;
      expect(model).toMatchObject({ id, object: 'model', shutdown_date: null });
    }
    const created = async (id: string) =>
      ((await (await send(get(`/v1/models/${id}`), context)).json()) as ModelObject).created;
    expect(await created('gpt-image-2')).toBe(Date.UTC(2026, 3, 21) / 1000);
    expect(await created('gpt-image-2.6-flare')).toBeGreaterThan(await created('gpt-image-2.5-flare'));

    openaiSandboxSettings.retiredModelStatus = 400;
    for (const id of [...RETIRED, 'gpt-image-3']) {
      const error = await failure(await send(get(`/v1/models/${id}`), context), 404);
      expect(error).toEqual(notFoundBody(id));
    }
  });

  it('needs a key, takes only GET, and never spends a fault', async () => {
    const { context, state } = sandbox();
    state.addFault({ status: 500, times: 1 });
    await failure(await send(get('/v1/models', null), context), 401);
    const post = await send(
      new Request('http://sandbox/v1/models', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}` },
      }),
      context,
    );
    expect(post.headers.get('allow')).toBe('GET');
    await failure(post, 405);
    expect((await send(get('/v1/models/gpt-image-2'), context)).status).toBe(200);
    await failure(await send(generation({ model: 'gpt-image-2', prompt: 'x' }), context), 500);
    expect(state.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /v1/models',
      'POST /v1/models',
      'GET /v1/models/gpt-image-2',
      'POST /v1/images/generations',
    ]);
  });
});

describe('OpenAI sandbox: authentication and routing', () => {
  it('answers a missing or empty bearer key with OpenAI 401 body, and records the request', async () => {
    const { context, state } = sandbox();
    for (const key of [null, '', '   ']) {
      const error = await failure(await send(generation({ prompt: 'x' }, { key }), context), 401);
      expect(error).toEqual({
        message: expect.stringMatching(/^You didn't provide an API key\./),
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    }
    const basic = new Request('http://sandbox/v1/images/edits', {
      method: 'POST',
      headers: { authorization: 'Basic abc' },
      body: new FormData(),
    });
    await failure(await send(basic, context), 401);
    expect(state.requests).toHaveLength(4);
    expect(state.requests[0]?.fields).toEqual({ prompt: 'x' });
  });

  it('answers unknown paths (the DALL·E variations endpoint included) with 404, wrong methods with 405', async () => {
    const { context } = sandbox();
    for (const path of ['/v1/images/variations', '/v1/images/variants', '/files/img-1.png']) {
      const notFound = await failure(
        await send(new Request(`http://sandbox${path}`, { method: 'POST' }), context),
        404,
      );
      expect(notFound.message).toBe(`Invalid URL (POST ${path})`);
    }
    const wrongMethod = await send(new Request('http://sandbox/v1/images/generations'), context);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.headers.get('x-request-id')).toMatch(/^req_/);
    await failure(wrongMethod, 405);
  });

  it('sends OpenAI response headers', async () => {
    const { context } = sandbox();
    const response = await send(generation({ model: 'gpt-image-2', prompt: 'x', size: '256x256' }), context);
    expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(0);
    expect(Number(response.headers.get('x-ratelimit-limit-requests'))).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
    expect(response.headers.get('openai-version')).toBe('2020-10-01');
  });
});

describe('OpenAI sandbox: faults and recording', () => {
  const withFault = (fault: Fault) => {
    const made = sandbox();
    made.state.addFault(fault);
    return made;
  };
  const ok = { model: 'gpt-image-2', prompt: 'a tree', size: '256x256' };

  it('answers a status fault `times` times, then recovers', async () => {
    const { context } = withFault({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const error = await failure(await send(generation(ok), context), 500);
      expect(error.type).toBe('server_error');
    }
    await images(await send(generation(ok), context));
  });

  it('gives each injected status OpenAI own body', async () => {
    const expectations: [number, string, string | null][] = [
      [400, 'invalid_request_error', null],
      [401, 'invalid_request_error', 'invalid_api_key'],
      [403, 'invalid_request_error', null],
      [404, 'invalid_request_error', 'model_not_found'],
      [429, 'requests', 'rate_limit_exceeded'],
      [500, 'server_error', null],
      [502, 'server_error', null],
      [503, 'server_error', null],
    ];
    for (const [status, type, code] of expectations) {
      const { context } = withFault({ status, times: 1 });
      const response = await send(generation(ok), context);
      if (status === 429) expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('x-request-id')).toMatch(/^req_/);
      const error = await failure(response, status);
      expect({ type: error.type, code: error.code }).toEqual({ type, code });
    }
    const { context } = withFault({ status: 401, times: 1 });
    const error = await failure(await send(generation(ok), context), 401);
    expect(error.message).not.toContain(KEY);
  });

  it('knows the insufficient_quota and organization_not_verified outcomes', async () => {
    const quota = withFault({ outcome: 'insufficient_quota', times: 1 });
    const error = await failure(await send(generation(ok), quota.context), 429);
    expect(error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });

    const unverified = withFault({ outcome: 'organization_not_verified', times: 1 });
    const refused = await failure(await send(generation(ok), unverified.context), 403);
    expect(refused.message).toContain('Your organization must be verified to use the model `gpt-image-2`');
  });

  it('shuts a served model down on demand with the model_shut_down outcomes', async () => {
    const shutDown = withFault({ outcome: 'model_shut_down', times: 1 });
    expect(await failure(await send(generation(ok), shutDown.context), 404)).toEqual(
      notFoundBody('gpt-image-2'),
    );
    await images(await send(generation(ok), shutDown.context));

    const variant = withFault({ outcome: 'model_shut_down_400', times: 1 });
    const edited = await send(
      edit([
        ['model', 'gpt-image-2.6-sunburst'],
        ['prompt', 'x'],
        ['image', await png('in', 32, 32)],
      ]),
      variant.context,
    );
    expect(await failure(edited, 400)).toEqual(notFoundBody('gpt-image-2.6-sunburst'));

    openaiSandboxSettings.retiredModelStatus = 400;
    const switched = withFault({ outcome: 'model_shut_down', times: 1 });
    expect(await failure(await send(generation(ok), switched.context), 400)).toEqual(
      notFoundBody('gpt-image-2'),
    );
  });

  it('does not spend a fault on an unauthenticated request or an unknown path', async () => {
    const { context } = withFault({ status: 503, times: 1 });
    await failure(await send(generation(ok, { key: null }), context), 401);
    await failure(
      await send(new Request('http://sandbox/v1/images/variations', { method: 'POST' }), context),
      404,
    );
    await failure(await send(generation(ok), context), 503);
  });

  it('refuses a valid moderated request with moderation_blocked, on both endpoints', async () => {
    const generated = withFault({ moderated: true, times: 1 });
    const blocked = await failure(
      await send(generation({ model: 'gpt-image-2.6-flare', prompt: 'something' }), generated.context),
      400,
    );
    expect(blocked).toMatchObject({
      type: 'image_generation_user_error',
      code: 'moderation_blocked',
      param: null,
    });
    expect(blocked.message).toContain('rejected by the safety system');
    await images(await send(generation(ok), generated.context));

    const editing = withFault({ moderated: true, times: 1 });
    const editRefused = await failure(
      await send(
        edit([
          ['model', 'gpt-image-2.5-sunburst'],
          ['prompt', 'x'],
          ['image', await png('in', 32, 32)],
        ]),
        editing.context,
      ),
      400,
    );
    expect(editRefused.code).toBe('moderation_blocked');

    // Validation comes first: an invalid request answers its own error (and spends the fault).
    const invalidFirst = withFault({ moderated: true, times: 1 });
    const retired = await failure(
      await send(generation({ model: 'dall-e-3', prompt: 'x' }), invalidFirst.context),
      404,
    );
    expect(retired.code).toBe('model_not_found');
    await images(await send(generation(ok), invalidFirst.context));
  });

  it('hangs on a timeout fault until the client aborts', async () => {
    const { context, state } = withFault({ timeout: true, times: 1 });
    let hung: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      hung = resolve;
    });
    const watched: SandboxContext = {
      baseUrl: context.baseUrl,
      takeFault: () => context.takeFault(),
      record: (request) => context.record(request),
      hang: (target) => {
        hung();
        return context.hang(target);
      },
    };
    const controller = new AbortController();
    let settled = false;
    const pending = send(generation(ok, { signal: controller.signal }), watched).finally(() => {
      settled = true;
    });
    await hanging;
    expect(settled).toBe(false);
    controller.abort();
    await expect(pending).rejects.toBeDefined();
    expect(settled).toBe(true);
    expect(state.requests).toHaveLength(1);
    await images(await send(generation(ok), context));
  });

  it('records every request with its method, path, headers and JSON fields', async () => {
    const { context, state } = sandbox();
    await send(generation(ok), context);
    await send(generation({ prompt: 'y', model: 'dall-e-3' }), context);
    expect(state.requests).toHaveLength(2);
    const [first, second] = state.requests;
    expect(first).toMatchObject({
      method: 'POST',
      path: '/v1/images/generations',
      contentType: 'application/json',
      fields: ok,
      files: {},
    });
    expect(first?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(second?.fields).toEqual({ prompt: 'y', model: 'dall-e-3' });
  });
});

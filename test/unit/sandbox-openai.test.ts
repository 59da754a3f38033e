import { Jimp } from 'jimp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage, drawPicture, imageSize } from '../../infra/local/sandbox/draw.ts';
import { openaiSimulator } from '../../infra/local/sandbox/openai.ts';
import {
  type Fault,
  type SandboxContext,
  SandboxState,
  sandboxContext,
} from '../../infra/local/sandbox/sandbox.ts';

const BASE_URL = 'http://sandbox/__sandbox/openai';
const KEY = 'sk-sandbox-test-key-0123456789';

interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface ImagesBody {
  created: number;
  data: { b64_json?: string; url?: string; revised_prompt?: string }[];
  background?: string;
  output_format?: string;
  quality?: string;
  size?: string;
  usage?: { total_tokens: number; input_tokens: number; output_tokens: number };
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

type Part = string | { bytes: Buffer; type: string; name: string };

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

async function send(request: Request, context: SandboxContext): Promise<Response> {
  const path = new URL(request.url).pathname;
  return openaiSimulator.handle(request, path, context);
}

async function images(response: Response): Promise<ImagesBody> {
  expect(response.status).toBe(200);
  return (await response.json()) as ImagesBody;
}

async function failure(response: Response, status: number): Promise<ErrorEnvelope['error']> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as ErrorEnvelope;
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

const png = async (seed: string, width: number, height: number) => ({
  bytes: await drawImage({ seed, width, height, format: 'png' }),
  type: 'image/png',
  name: `${seed}.png`,
});
const jpeg = async (seed: string, width: number, height: number) => ({
  bytes: await drawImage({ seed, width, height, format: 'jpeg' }),
  type: 'image/jpeg',
  name: `${seed}.jpg`,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('OpenAI sandbox: generations', () => {
  it('draws n decodable PNGs of the requested size, different per item and per prompt', async () => {
    const { context } = sandbox();
    const response = await send(
      generation({
        model: 'dall-e-2',
        prompt: 'a red cube',
        n: 2,
        size: '256x256',
        response_format: 'b64_json',
      }),
      context,
    );
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(0);
    expect(Number(response.headers.get('x-ratelimit-limit-requests'))).toBeGreaterThan(0);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
    const body = await images(response);
    expect(body.created).toBeCloseTo(Date.now() / 1000, -1);
    expect(body.data).toHaveLength(2);
    expect(body).not.toHaveProperty('usage');
    const [first, second] = body.data.map(decode);
    if (!first || !second) throw new Error('two images expected');
    expect(isPng(first)).toBe(true);
    expect(await imageSize(first)).toEqual({ width: 256, height: 256 });
    expect(await imageSize(second)).toEqual({ width: 256, height: 256 });
    expect(first.equals(second)).toBe(false);

    const again = await images(
      await send(
        generation({ model: 'dall-e-2', prompt: 'a red cube', size: '256x256', response_format: 'b64_json' }),
        context,
      ),
    );
    expect(decode(again.data[0]).equals(first)).toBe(true);
    const other = await images(
      await send(
        generation({
          model: 'dall-e-2',
          prompt: 'a blue sphere',
          size: '256x256',
          response_format: 'b64_json',
        }),
        context,
      ),
    );
    expect(decode(other.data[0]).equals(first)).toBe(false);
  });

  it('answers GPT image models with base64 and the resolved background, format, quality, size and usage', async () => {
    const { context } = sandbox();
    const body = await images(
      await send(generation({ model: 'gpt-image-1', prompt: 'a lighthouse', size: 'auto' }), context),
    );
    expect(body).toMatchObject({
      background: 'opaque',
      output_format: 'png',
      quality: 'high',
      size: '1024x1024',
    });
    expect(body.usage?.output_tokens).toBeGreaterThan(0);
    expect(body.usage?.total_tokens).toBe((body.usage?.input_tokens ?? 0) + (body.usage?.output_tokens ?? 0));
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).not.toHaveProperty('url');
    expect(body.data[0]).not.toHaveProperty('revised_prompt');
    expect(await imageSize(decode(body.data[0]))).toEqual({ width: 1024, height: 1024 });
  });

  it('encodes JPEG when asked, and keeps transparent corners for a transparent PNG', async () => {
    const { context } = sandbox();
    const jpegBody = await images(
      await send(
        generation({
          model: 'gpt-image-1-mini',
          prompt: 'a fox',
          size: '1536x1024',
          quality: 'low',
          output_format: 'jpeg',
          output_compression: 60,
        }),
        context,
      ),
    );
    expect(jpegBody).toMatchObject({ output_format: 'jpeg', quality: 'low', size: '1536x1024' });
    const jpegBytes = decode(jpegBody.data[0]);
    expect(isJpeg(jpegBytes)).toBe(true);
    expect(await imageSize(jpegBytes)).toEqual({ width: 1536, height: 1024 });

    const clear = await images(
      await send(
        generation({
          model: 'gpt-image-1.5',
          prompt: 'a sticker',
          background: 'transparent',
          quality: 'low',
        }),
        context,
      ),
    );
    expect(clear.background).toBe('transparent');
    const picture = await Jimp.read(decode(clear.data[0]));
    expect(picture.bitmap.data[3]).toBe(0);
  });

  it('encodes WebP when asked, transparency included', async () => {
    const { context } = sandbox();
    const body = await images(
      await send(
        generation({
          model: 'gpt-image-1',
          prompt: 'a badge',
          quality: 'low',
          background: 'transparent',
          output_format: 'webp',
        }),
        context,
      ),
    );
    expect(body).toMatchObject({ output_format: 'webp', background: 'transparent' });
    const bytes = decode(body.data[0]);
    expect(bytes.toString('latin1', 0, 4)).toBe('RIFF');
    expect(bytes.toString('latin1', 8, 12)).toBe('WEBP');
    const decoded = await decodeImage(bytes);
    expect({ width: decoded.width, height: decoded.height, hasAlpha: decoded.hasAlpha }).toEqual({
      width: 1024,
      height: 1024,
      hasAlpha: true,
    });
  });

  it('defaults to dall-e-2 URLs served by the simulator for 60 minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { context, state } = sandbox();
    const body = await images(await send(generation({ prompt: 'a kite', size: '256x256' }), context));
    const url = body.data[0]?.url ?? '';
    expect(url.startsWith(`${BASE_URL}/files/`)).toBe(true);
    const fileUrl = new URL(url);
    const path = fileUrl.pathname.slice(new URL(BASE_URL).pathname.length);
    expect(path).toMatch(/^\/files\/img-[0-9a-f]+\.png$/);

    const download = await openaiSimulator.handle(new Request(url), path, context);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(await imageSize(bytes)).toEqual({ width: 256, height: 256 });

    vi.setSystemTime(Date.now() + 61 * 60 * 1000);
    const expired = await openaiSimulator.handle(new Request(url), path, context);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('AuthenticationFailed');
    const missing = await openaiSimulator.handle(
      new Request(`${BASE_URL}/files/img-0.png`),
      '/files/img-0.png',
      context,
    );
    expect(missing.status).toBe(404);
    expect(state.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'GET', 'GET']);
  });

  it('gives dall-e-3 results a revised prompt', async () => {
    const { context } = sandbox();
    const body = await images(
      await send(
        generation({ model: 'dall-e-3', prompt: 'a castle', style: 'natural', response_format: 'b64_json' }),
        context,
      ),
    );
    expect(body.data).toHaveLength(1);
    expect(body.data[0]?.revised_prompt).toContain('a castle');
    expect(await imageSize(decode(body.data[0]))).toEqual({ width: 1024, height: 1024 });
  });
});

describe('OpenAI sandbox: edits', () => {
  it('edits a PNG sent as `image`, sizing `auto` from its aspect, and honours a same-size mask', async () => {
    const { context, state } = sandbox();
    const input = await png('wide input', 300, 200);
    const mask = await png('mask', 300, 200);
    const response = await send(
      edit([
        ['model', 'gpt-image-1'],
        ['prompt', 'add a hat'],
        ['quality', 'low'],
        ['image', input],
        ['mask', mask],
      ]),
      context,
    );
    const body = await images(response);
    expect(body.size).toBe('1536x1024');
    expect(body.data).toHaveLength(1);
    const first = decode(body.data[0]);
    expect(isPng(first)).toBe(true);
    expect(await imageSize(first)).toEqual({ width: 1536, height: 1024 });

    const recorded = state.requests[0];
    expect(recorded?.path).toBe('/v1/images/edits');
    expect(recorded?.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(recorded?.fields).toEqual({ model: 'gpt-image-1', prompt: 'add a hat', quality: 'low' });
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
            ['model', 'gpt-image-1'],
            ['prompt', 'make it night'],
            ['quality', 'low'],
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
          ['model', 'gpt-image-1.5'],
          ['prompt', 'upscale it'],
          ['quality', 'low'],
          ['image', { bytes: webp, type: 'image/webp', name: 'dot.webp' }],
        ]),
        context,
      ),
    );
    expect(body.size).toBe('1536x1024');
    expect(await imageSize(decode(body.data[0]))).toEqual({ width: 1536, height: 1024 });
  });

  it('edits one square PNG with dall-e-2 at a small size, parsing multipart numbers', async () => {
    const { context } = sandbox();
    const body = await images(
      await send(
        edit([
          ['model', 'dall-e-2'],
          ['prompt', 'a cat'],
          ['n', '2'],
          ['size', '256x256'],
          ['response_format', 'b64_json'],
          ['image', await png('square', 64, 64)],
        ]),
        context,
      ),
    );
    expect(body.data).toHaveLength(2);
    expect(await imageSize(decode(body.data[0]))).toEqual({ width: 256, height: 256 });
    expect(decode(body.data[0]).equals(decode(body.data[1]))).toBe(false);
  });

  it('rejects uploads whose type or content is wrong', async () => {
    const { context } = sandbox();
    const real = await png('input', 64, 64);
    const jpegBytes = await jpeg('input', 64, 64);
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
          ['mask', jpegBytes],
        ],
        param: 'mask',
        code: 'unsupported_file_mimetype',
      },
      { parts: [], param: 'image', code: 'missing_required_parameter' },
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
          ['n', '11'],
        ],
        param: 'n',
        code: 'integer_above_max_value',
      },
      {
        parts: [
          ['image', real],
          ['images', real],
        ],
        param: 'images',
        code: 'unknown_parameter',
      },
      {
        parts: [
          ['image', real],
          ['model', 'dall-e-3'],
        ],
        param: 'model',
        code: 'invalid_value',
      },
      {
        parts: [
          ['image', await png('wide', 80, 40)],
          ['model', 'dall-e-2'],
        ],
        param: 'image',
        code: 'invalid_image',
      },
    ];
    for (const { parts, param, code } of cases) {
      const error = await failure(await send(edit([['prompt', 'edit it'], ...parts]), context), 400);
      expect({ param: error.param, code: error.code, type: error.type }).toEqual({
        param,
        code,
        type: 'invalid_request_error',
      });
    }
  });
});

describe('OpenAI sandbox: authentication, routing and validation', () => {
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

  it('answers unknown paths with 404 and wrong methods with 405 in the OpenAI envelope', async () => {
    const { context } = sandbox();
    const notFound = await failure(
      await send(new Request('http://sandbox/v1/images/variants', { method: 'POST' }), context),
      404,
    );
    expect(notFound.message).toBe('Invalid URL (POST /v1/images/variants)');
    const wrongMethod = await send(new Request('http://sandbox/v1/images/generations'), context);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.headers.get('x-request-id')).toMatch(/^req_/);
    await failure(wrongMethod, 405);
  });

  it('rejects invalid generation requests naming the offending parameter', async () => {
    const { context } = sandbox();
    const cases: { body: Record<string, unknown>; param: string; code: string }[] = [
      { body: {}, param: 'prompt', code: 'missing_required_parameter' },
      { body: { prompt: 42 }, param: 'prompt', code: 'invalid_type' },
      { body: { prompt: 'x'.repeat(1001) }, param: 'prompt', code: 'string_above_max_length' },
      {
        body: { model: 'dall-e-3', prompt: 'x'.repeat(4001) },
        param: 'prompt',
        code: 'string_above_max_length',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x'.repeat(32001) },
        param: 'prompt',
        code: 'string_above_max_length',
      },
      { body: { model: 'dall-e-4', prompt: 'x' }, param: 'model', code: 'invalid_value' },
      { body: { model: 'dall-e-3', prompt: 'x', n: 2 }, param: 'n', code: 'invalid_value' },
      { body: { model: 'dall-e-3', prompt: 'x', size: '512x512' }, param: 'size', code: 'invalid_value' },
      { body: { model: 'dall-e-3', prompt: 'x', quality: 'high' }, param: 'quality', code: 'invalid_value' },
      { body: { model: 'dall-e-3', prompt: 'x', style: 'bold' }, param: 'style', code: 'invalid_value' },
      { body: { model: 'dall-e-2', prompt: 'x', size: '1792x1024' }, param: 'size', code: 'invalid_value' },
      {
        body: { model: 'dall-e-3', prompt: 'x', background: 'opaque' },
        param: 'background',
        code: 'unknown_parameter',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', response_format: 'b64_json' },
        param: 'response_format',
        code: 'unknown_parameter',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', style: 'vivid' },
        param: 'style',
        code: 'unknown_parameter',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', size: '1792x1024' },
        param: 'size',
        code: 'invalid_value',
      },
      { body: { model: 'gpt-image-1', prompt: 'x', quality: 'hd' }, param: 'quality', code: 'invalid_value' },
      {
        body: { model: 'gpt-image-1', prompt: 'x', quality: 'standard' },
        param: 'quality',
        code: 'invalid_value',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', background: 'transparent', output_format: 'jpeg' },
        param: 'background',
        code: 'invalid_value',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', output_format: 'gif' },
        param: 'output_format',
        code: 'invalid_value',
      },
      {
        body: { model: 'gpt-image-1', prompt: 'x', output_compression: 50 },
        param: 'output_compression',
        code: 'invalid_value',
      },
      { body: { model: 'gpt-image-1', prompt: 'x', n: 11 }, param: 'n', code: 'integer_above_max_value' },
      { body: { model: 'gpt-image-1', prompt: 'x', n: 0 }, param: 'n', code: 'integer_below_min_value' },
      { body: { model: 'gpt-image-1', prompt: 'x', n: 1.5 }, param: 'n', code: 'invalid_type' },
      { body: { model: 'gpt-image-1', prompt: 'x', n: '2' }, param: 'n', code: 'invalid_type' },
      { body: { prompt: 'x', colour: 'red' }, param: 'colour', code: 'unknown_parameter' },
    ];
    for (const { body, param, code } of cases) {
      const error = await failure(await send(generation(body), context), 400);
      expect(
        { param: error.param, code: error.code, type: error.type },
        JSON.stringify(body).slice(0, 80),
      ).toEqual({
        param,
        code,
        type: 'invalid_request_error',
      });
    }
  });

  it('answers a body that is not JSON with 400', async () => {
    const { context } = sandbox();
    const error = await failure(await send(generation('{"prompt": '), context), 400);
    expect(error.message).toContain('could not parse the JSON body');
    expect(error.param).toBeNull();
  });
});

describe('OpenAI sandbox: faults and recording', () => {
  const withFault = (fault: Fault) => {
    const made = sandbox();
    made.state.addFault(fault);
    return made;
  };
  const ok = { model: 'dall-e-2', prompt: 'a tree', size: '256x256', response_format: 'b64_json' };

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
      [429, 'requests', 'rate_limit_exceeded'],
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

  it('knows the insufficient_quota outcome', async () => {
    const { context } = withFault({ outcome: 'insufficient_quota', times: 1 });
    const error = await failure(await send(generation(ok), context), 429);
    expect(error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
  });

  it('does not spend a fault on an unauthenticated request or an unknown path', async () => {
    const { context } = withFault({ status: 503, times: 1 });
    await failure(await send(generation(ok, { key: null }), context), 401);
    await failure(await send(new Request('http://sandbox/v1/models', { method: 'POST' }), context), 404);
    await failure(await send(generation(ok), context), 503);
  });

  it('refuses a moderated request with the code of the model family', async () => {
    const gpt = withFault({ moderated: true, times: 1 });
    const blocked = await failure(
      await send(generation({ model: 'gpt-image-1', prompt: 'something' }), gpt.context),
      400,
    );
    expect(blocked).toMatchObject({
      type: 'image_generation_user_error',
      code: 'moderation_blocked',
      param: null,
    });
    expect(blocked.message).toContain('rejected by the safety system');

    const dalle = withFault({ moderated: true, times: 1 });
    const refused = await failure(await send(generation(ok), dalle.context), 400);
    expect(refused).toMatchObject({ type: 'image_generation_user_error', code: 'content_policy_violation' });
    expect(refused.message).toContain('safety system');
    await images(await send(generation(ok), dalle.context));

    const editing = withFault({ moderated: true, times: 1 });
    const editRefused = await failure(
      await send(
        edit([
          ['model', 'gpt-image-1'],
          ['prompt', 'x'],
          ['image', await png('in', 32, 32)],
        ]),
        editing.context,
      ),
      400,
    );
    expect(editRefused.code).toBe('moderation_blocked');
  });

  it('hangs on a timeout fault until the client aborts', async () => {
    const { context, state } = withFault({ timeout: true, times: 1 });
    const controller = new AbortController();
    let settled = false;
    const pending = send(generation(ok, { signal: controller.signal }), context).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    controller.abort();
    await expect(pending).rejects.toBeDefined();
    expect(state.requests).toHaveLength(1);
    await images(await send(generation(ok), context));
  });

  it('records every request with its method, path, headers and JSON fields', async () => {
    const { context, state } = sandbox();
    await send(generation(ok), context);
    await send(generation({ prompt: 'y', model: 'nope' }), context);
    expect(state.requests).toHaveLength(2);
    const [first] = state.requests;
    expect(first).toMatchObject({
      method: 'POST',
      path: '/v1/images/generations',
      contentType: 'application/json',
      fields: ok,
      files: {},
    });
    expect(first?.headers.authorization).toBe(`Bearer ${KEY}`);
  });
});

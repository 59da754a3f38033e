import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage } from '../../infra/local/sandbox/draw.ts';
import {
  recraftSandboxSettings,
  recraftSimulator,
  resetRecraftSandbox,
} from '../../infra/local/sandbox/recraft.ts';
import { type SandboxContext, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';

const BASE_URL = 'http://sandbox.test/__sandbox/recraft';
const TOKEN = 'recraft-sandbox-token';

interface ImageItem {
  image_id: string;
  url?: string;
  b64_json?: string;
}
interface DataBody {
  created: number;
  credits: number;
  data: ImageItem[];
}
interface ToolBody {
  created: number;
  credits: number;
  image: ImageItem;
}
interface RecraftError {
  code: string;
  message: string;
}

function sandbox(): { state: SandboxState; context: SandboxContext } {
  const state = new SandboxState();
  return { state, context: sandboxContext(state, BASE_URL) };
}

async function handle(context: SandboxContext, request: Request): Promise<Response> {
  const path = new URL(request.url).pathname.slice(new URL(BASE_URL).pathname.length);
  return recraftSimulator.handle(request, path, context);
}

function json(
  operation: string,
  body: unknown,
  options: { token?: string | null; signal?: AbortSignal } = {},
): Request {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return new Request(`${BASE_URL}/v1/images/${operation}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

type Part = string | Buffer;

function multipart(operation: string, parts: [string, Part][]): Request {
  const form = new FormData();
  for (const [name, value] of parts) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new File([new Uint8Array(value)], `${name}.png`, { type: 'image/png' }));
  }
  return new Request(`${BASE_URL}/v1/images/${operation}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: form,
  });
}

async function ok<T>(response: Response): Promise<T> {
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  expect(response.headers.get('content-type')).toContain('application/json');
  return (await response.json()) as T;
}

async function rejected(response: Response, status = 400): Promise<RecraftError> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/json');
  const body = (await response.json()) as RecraftError;
  expect(Object.keys(body).sort()).toEqual(['code', 'message']);
  return body;
}

/** Downloads a result URL through the simulator's own GET route. */
async function download(context: SandboxContext, url: string | undefined): Promise<Response> {
  expect(url?.startsWith(`${BASE_URL}/files/`)).toBe(true);
  return handle(context, new Request(url ?? ''));
}

const png = (width: number, height: number, seed = 'input'): Promise<Buffer> =>
  drawImage({ seed, width, height, format: 'png' });

/** A black/white mask: white (regenerate) on the left half. */
async function halfMask(width: number, height: number, grey = 255): Promise<Buffer> {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const value = x < width / 2 ? grey : 0;
      data[i] = value;
      data[i + 1] = value;
      data[i + 2] = value;
      data[i + 3] = 255;
    }
  }
  return encodeImage({ data, width, height }, 'png');
}

describe('Recraft sandbox', () => {
  let input: Buffer;
  beforeAll(async () => {
    recraftSandboxSettings.outputScale = 0.25;
    input = await png(256, 256);
  });
  afterAll(() => {
    recraftSandboxSettings.outputScale = 1;
  });
  afterEach(() => {
    vi.useRealTimers();
    resetRecraftSandbox();
  });

  describe('generations', () => {
    it('answers URLs to WebP files served by the simulator', async () => {
      const { context, state } = sandbox();
      const body = await ok<DataBody>(
        await handle(context, json('generations', { prompt: 'a red fox', model: 'recraftv3', n: 2 })),
      );
      expect(body.created).toBeGreaterThan(1_700_000_000);
      expect(body.credits).toBe(80);
      expect(body.data).toHaveLength(2);
      const files: Buffer[] = [];
      for (const item of body.data) {
        expect(item.image_id).toMatch(/^[0-9a-f-]{36}$/);
        expect(item.url?.endsWith(`${item.image_id}.webp`)).toBe(true);
        const file = await download(context, item.url);
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('image/webp');
        const bytes = Buffer.from(await file.arrayBuffer());
        const image = await decodeImage(bytes);
        expect([image.format, image.width, image.height]).toEqual(['webp', 256, 256]);
        files.push(bytes);
      }
      expect(files[0]?.equals(files[1] ?? Buffer.alloc(0))).toBe(false);
      expect(state.requests[0]?.fields).toMatchObject({ prompt: 'a red fox', n: 2 });
    });

    it('answers b64_json PNGs sized from the model table, different per prompt', async () => {
      const { context } = sandbox();
      const generate = async (prompt: string): Promise<Buffer> => {
        const body = await ok<DataBody>(
          await handle(
            context,
            json('generations', {
              prompt,
              model: 'recraftv3',
              size: '1820x1024',
              response_format: 'b64_json',
              image_format: 'png',
              style: 'digital_illustration',
            }),
          ),
        );
        expect(body.data[0]?.url).toBeUndefined();
        return Buffer.from(body.data[0]?.b64_json ?? '', 'base64');
      };
      const first = await generate('a lighthouse');
      const image = await decodeImage(first);
      expect([image.format, image.width, image.height]).toEqual(['png', 455, 256]);
      expect(first.equals(await generate('a windmill'))).toBe(false);
    });

    it('accepts w:h sizes from the V4 table and answers SVG for vector models', async () => {
      const { context } = sandbox();
      const body = await ok<DataBody>(
        await handle(
          context,
          json('generations', { prompt: 'a logo', model: 'recraftv4_1_vector', size: '16:9' }),
        ),
      );
      const file = await download(context, body.data[0]?.url);
      expect(file.headers.get('content-type')).toBe('image/svg+xml');
      const svg = await file.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="336" height="192"/);
    });

    it('validates prompt, n, size, style rules and output formats', async () => {
      const { context } = sandbox();
      const message = async (body: Record<string, unknown>): Promise<string> =>
        (await rejected(await handle(context, json('generations', body)))).message;

      expect(await message({ model: 'recraftv3' })).toBe('prompt: is required');
      expect(await message({ prompt: 'x'.repeat(1001), model: 'recraftv3' })).toMatch(
        /^prompt: must be at most 1000/,
      );
      await ok(await handle(context, json('generations', { prompt: 'x'.repeat(1001), model: 'recraftv4' })));
      expect(await message({ prompt: 'x', model: 'recraftv3', n: 7 })).toBe('n: must be between 1 and 6');
      expect(await message({ prompt: 'x', model: 'recraftv3', n: '2' })).toBe('n: must be a number');
      expect(await message({ prompt: 'x', model: 'recraftv3', size: '1000x1000' })).toMatch(
        /^size: unsupported size/,
      );
      expect(await message({ prompt: 'x', model: 'recraftv4', size: '1820x1024' })).toMatch(
        /^size: unsupported/,
      );
      expect(
        await message({
          prompt: 'x',
          model: 'recraftv3',
          style: 'realistic_image',
          style_id: '0b7d1f5e-7a0c-4a39-9d4c-3f1c2b9a8e11',
        }),
      ).toBe('style and style_id: are mutually exclusive');
      expect(await message({ prompt: 'x', model: 'recraftv4_1', style: 'realistic_image' })).toBe(
        'style: is not supported by recraftv4_1',
      );
      expect(await message({ prompt: 'x', model: 'recraftv4', negative_prompt: 'blur' })).toBe(
        'negative_prompt: is not supported by recraftv4',
      );
      expect(await message({ prompt: 'x', model: 'recraftv3', response_format: 'file' })).toBe(
        'response_format: must be one of url, b64_json',
      );
      expect(await message({ prompt: 'x', model: 'recraftv3', image_format: 'jpeg' })).toBe(
        'image_format: must be one of webp, png',
      );
      expect(await message({ prompt: 'x', model: 'recraftv9' })).toMatch(/^model: unknown model/);
      const parse = await rejected(
        await handle(
          context,
          new Request(`${BASE_URL}/v1/images/generations`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: '{not json',
          }),
        ),
      );
      expect(parse.code).toBe('invalid_params');
    });
  });

  describe('imageToImage and inpaint', () => {
    it('transforms a multipart image at its own size, and requires strength 0–1', async () => {
      const { context } = sandbox();
      const body = await ok<DataBody>(
        await handle(
          context,
          multipart('imageToImage', [
            ['prompt', 'in watercolor'],
            ['strength', '0.3'],
            ['model', 'recraftv3'],
            ['image_format', 'png'],
            ['image', await png(320, 256)],
          ]),
        ),
      );
      const image = await decodeImage(
        Buffer.from(await (await download(context, body.data[0]?.url)).arrayBuffer()),
      );
      expect([image.format, image.width, image.height]).toEqual(['png', 320, 256]);

      const missing = await rejected(
        await handle(
          context,
          multipart('imageToImage', [
            ['prompt', 'x'],
            ['image', input],
          ]),
        ),
      );
      expect(missing.message).toBe('strength: is required');
      const range = await rejected(
        await handle(
          context,
          multipart('imageToImage', [
            ['prompt', 'x'],
            ['strength', '1.5'],
            ['image', input],
          ]),
        ),
      );
      expect(range.message).toBe('strength: must be between 0 and 1');
    });

    it('checks input image size and format', async () => {
      const { context } = sandbox();
      const small = await rejected(
        await handle(
          context,
          multipart('imageToImage', [
            ['prompt', 'x'],
            ['strength', '0.5'],
            ['image', await png(200, 300)],
          ]),
        ),
      );
      expect(small.code).toBe('invalid_image');
      expect(small.message).toMatch(/each side must be between 256 and 4096 px/);
      const garbage = await rejected(
        await handle(
          context,
          multipart('imageToImage', [
            ['prompt', 'x'],
            ['strength', '0.5'],
            ['image', Buffer.from('hello')],
          ]),
        ),
      );
      expect(garbage.code).toBe('invalid_image');
    });

    it('inpaints from JSON data URLs, regenerating only the white part of the mask', async () => {
      const { context } = sandbox();
      const dataUrl = (bytes: Buffer): string => `data:image/png;base64,${bytes.toString('base64')}`;
      const body = await ok<DataBody>(
        await handle(
          context,
          json('inpaint', {
            prompt: 'a window',
            model: 'recraftv3',
            image_url: dataUrl(input),
            mask_url: dataUrl(await halfMask(256, 256)),
            image_format: 'png',
            response_format: 'b64_json',
          }),
        ),
      );
      const result = await decodeImage(Buffer.from(body.data[0]?.b64_json ?? '', 'base64'));
      const original = await decodeImage(input);
      expect([result.width, result.height]).toEqual([256, 256]);
      const at = (image: { data: Uint8Array }, x: number, y: number): number[] =>
        Array.from(image.data.subarray((y * 256 + x) * 4, (y * 256 + x) * 4 + 4));
      // Black (right) half is kept exactly; the white (left) half is new.
      expect(at(result, 200, 100)).toEqual(at(original, 200, 100));
      let changed = 0;
      for (let x = 0; x < 128; x += 8)
        if (at(result, x, 100).join() !== at(original, x, 100).join()) changed++;
      expect(changed).toBeGreaterThan(0);
    });

    it('inpaints from multipart files, and rejects masks of another size or with grey pixels', async () => {
      const { context } = sandbox();
      await ok(
        await handle(
          context,
          multipart('inpaint', [
            ['prompt', 'a door'],
            ['model', 'recraftv3'],
            ['image', input],
            ['mask', await halfMask(256, 256)],
          ]),
        ),
      );
      const size = await rejected(
        await handle(
          context,
          multipart('inpaint', [
            ['prompt', 'x'],
            ['image', input],
            ['mask', await halfMask(320, 256)],
          ]),
        ),
      );
      expect(size.code).toBe('invalid_mask');
      expect(size.message).toMatch(/must have the image's size 256x256/);
      const grey = await rejected(
        await handle(
          context,
          multipart('inpaint', [
            ['prompt', 'x'],
            ['image', input],
            ['mask', await halfMask(256, 256, 128)],
          ]),
        ),
      );
      expect(grey.message).toBe('mask: every pixel must be pure black (0) or pure white (255)');
    });

    it('fetches an http image_url', async () => {
      const server: Server = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'image/png' });
        response.end(input);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const { context } = sandbox();
        const body = await ok<DataBody>(
          await handle(
            context,
            json('imageToImage', {
              prompt: 'x',
              strength: 0.2,
              model: 'recraftv3',
              image_url: `http://127.0.0.1:${port}/input.png`,
            }),
          ),
        );
        expect(body.data).toHaveLength(1);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });

  describe('processing tools', () => {
    it('removes the background into a transparent WebP of the same size', async () => {
      const { context } = sandbox();
      const response = await handle(context, multipart('removeBackground', [['image', input]]));
      expect(response.headers.get('x-sandbox-warning')).toBeNull();
      const body = await ok<ToolBody>(response);
      expect(body.credits).toBeGreaterThan(0);
      const image = await decodeImage(
        Buffer.from(await (await download(context, body.image.url)).arrayBuffer()),
      );
      expect([image.format, image.width, image.height, image.hasAlpha]).toEqual(['webp', 256, 256, true]);
    });

    it('accepts the legacy multipart field "file" but flags it', async () => {
      const { context } = sandbox();
      const response = await handle(context, multipart('crispUpscale', [['file', input]]));
      expect(response.headers.get('x-sandbox-warning')).toBe('legacy field "file"');
      await ok<ToolBody>(response);
    });

    it('upscales 2x; crisp takes 32 px sides, creative needs 256', async () => {
      const { context } = sandbox();
      const crisp = await ok<ToolBody>(
        await handle(
          context,
          multipart('crispUpscale', [
            ['image', await png(64, 48)],
            ['image_format', 'png'],
          ]),
        ),
      );
      const image = await decodeImage(
        Buffer.from(await (await download(context, crisp.image.url)).arrayBuffer()),
      );
      expect([image.format, image.width, image.height]).toEqual(['png', 128, 96]);
      expect(crisp.credits).toBe(4);

      const creative = await ok<ToolBody>(
        await handle(
          context,
          multipart('creativeUpscale', [
            ['image', input],
            ['response_format', 'b64_json'],
          ]),
        ),
      );
      const big = await decodeImage(Buffer.from(creative.image.b64_json ?? '', 'base64'));
      expect([big.width, big.height]).toEqual([512, 512]);
      expect(creative.credits).toBe(250);

      const small = await rejected(
        await handle(context, multipart('creativeUpscale', [['image', await png(64, 48)]])),
      );
      expect(small.code).toBe('invalid_image');
    });
  });

  describe('protocol', () => {
    it('answers 401 text/plain "request unauthorized" without a bearer token', async () => {
      const { context } = sandbox();
      const response = await handle(context, json('generations', { prompt: 'x' }, { token: null }));
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect((await response.text()).trim()).toBe('request unauthorized');
    });

    it('answers 404 text/plain "404 page not found" for unknown paths', async () => {
      const { context } = sandbox();
      const response = await handle(context, json('textToVideo', { prompt: 'x' }));
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect((await response.text()).trim()).toBe('404 page not found');
    });

    it('expires result URLs after 24 hours', async () => {
      const { context } = sandbox();
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
      const body = await ok<DataBody>(
        await handle(context, json('generations', { prompt: 'x', model: 'recraftv3' })),
      );
      vi.setSystemTime(new Date('2030-01-01T23:59:00Z'));
      expect((await download(context, body.data[0]?.url)).status).toBe(200);
      vi.setSystemTime(new Date('2030-01-02T00:01:00Z'));
      const expired = await download(context, body.data[0]?.url);
      expect(expired.status).toBe(404);
    });
  });

  describe('faults', () => {
    it.each([
      [402, 'not_enough_credits'],
      [429, 'too_many_requests'],
      [500, 'internal_error'],
    ])('answers a scripted %i as JSON %s, once', async (status, code) => {
      const { context, state } = sandbox();
      state.addFault({ status, times: 1 });
      expect((await rejected(await handle(context, json('removeBackground', {})), status)).code).toBe(code);
      const after = await handle(context, json('generations', { prompt: 'x', model: 'recraftv3' }));
      expect(after.status).toBe(200);
    });

    it('answers a scripted 401 as Recraft does: plain text', async () => {
      const { context, state } = sandbox();
      state.addFault({ status: 401, times: 1 });
      const response = await handle(context, json('generations', { prompt: 'x' }));
      expect(response.status).toBe(401);
      expect((await response.text()).trim()).toBe('request unauthorized');
    });

    it('answers moderated requests with a 400 content-policy error', async () => {
      const { context, state } = sandbox();
      state.addFault({ moderated: true, times: 1 });
      const body = await rejected(
        await handle(context, json('generations', { prompt: 'x', model: 'recraftv3' })),
      );
      expect(body.code).toBe('content_policy_violation');
    });

    it('does not spend faults on file downloads', async () => {
      const { context, state } = sandbox();
      const body = await ok<DataBody>(
        await handle(context, json('generations', { prompt: 'x', model: 'recraftv3' })),
      );
      state.addFault({ status: 500, times: 1 });
      expect((await download(context, body.data[0]?.url)).status).toBe(200);
      expect((await handle(context, json('generations', { prompt: 'x' }))).status).toBe(500);
    });

    it('hangs on a timeout fault until the client disconnects', async () => {
      const { context, state } = sandbox();
      state.addFault({ timeout: true, times: 1 });
      let hung: () => void = () => {};
      const hanging = new Promise<void>((resolve) => {
        hung = resolve;
      });
      const watched: SandboxContext = {
        ...context,
        hang: (target) => {
          hung();
          return context.hang(target);
        },
      };
      const controller = new AbortController();
      // The test is the client and, like fetch, holds its Request until it gives up (what happens
      // when nothing holds it is sandbox-hang.test.ts's subject).
      const request = json('generations', { prompt: 'x' }, { signal: controller.signal });
      const pending = handle(watched, request);
      let settled = false;
      const done = (): void => {
        settled = true;
      };
      void pending.then(done, done);
      // No clock: wait until the simulator is hanging, then let a turn of the event loop pass.
      await hanging;
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      expect(state.requests).toHaveLength(1);
      controller.abort();
      await expect(pending).rejects.toThrow('client disconnected');
      expect(request.signal.aborted).toBe(true);
    });
  });
});

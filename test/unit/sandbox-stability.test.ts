import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage } from '../../infra/local/sandbox/draw.ts';
import { type SandboxContext, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';
import { stabilitySandboxSettings, stabilitySimulator } from '../../infra/local/sandbox/stability.ts';

const BASE_URL = 'http://sandbox.test/__sandbox/stability';
const KEY = 'sk-sandbox-stability-0123456789';

interface StabilityError {
  id: string;
  name: string;
  errors: string[];
}

function sandbox(): { state: SandboxState; context: SandboxContext } {
  const state = new SandboxState();
  return { state, context: sandboxContext(state, BASE_URL) };
}

type Part = string | { bytes: Buffer; type?: string; name?: string };

interface Call {
  parts?: [string, Part][];
  key?: string | null;
  accept?: string | null;
  signal?: AbortSignal;
  body?: BodyInit;
  contentType?: string;
}

function post(path: string, call: Call = {}): Request {
  const headers: Record<string, string> = {};
  const key = call.key === undefined ? KEY : call.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (call.accept !== undefined && call.accept !== null) headers.accept = call.accept;
  if (call.contentType) headers['content-type'] = call.contentType;
  let body = call.body;
  if (body === undefined) {
    const form = new FormData();
    for (const [name, value] of call.parts ?? []) {
      if (typeof value === 'string') form.append(name, value);
      else {
        const file = new File([new Uint8Array(value.bytes)], value.name ?? 'image.png', {
          type: value.type ?? 'image/png',
        });
        form.append(name, file);
      }
    }
    body = form;
  }
  return new Request(`${BASE_URL}${path}`, {
    method: 'POST',
    headers,
    body,
    ...(call.signal ? { signal: call.signal } : {}),
  });
}

async function send(context: SandboxContext, path: string, call: Call = {}): Promise<Response> {
  return stabilitySimulator.handle(post(path, call), path, context);
}

async function failure(response: Response, status: number): Promise<StabilityError> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/json');
  const body = (await response.json()) as StabilityError;
  expect(Object.keys(body).sort()).toEqual(['errors', 'id', 'name']);
  expect(body.id).toMatch(/^[0-9a-f]{32}$/);
  expect(body.errors.length).toBeGreaterThan(0);
  return body;
}

async function picture(response: Response) {
  expect(response.status).toBe(200);
  return decodeImage(Buffer.from(await response.arrayBuffer()));
}

const png = (width: number, height: number, seed = 'input'): Promise<Buffer> =>
  drawImage({ seed, width, height, format: 'png' });

const GENERATE = '/v2beta/stable-image/generate';

describe('Stability sandbox', () => {
  let input256: Buffer;
  beforeAll(async () => {
    stabilitySandboxSettings.outputScale = 0.25;
    input256 = await png(256, 256);
  });
  afterAll(() => {
    stabilitySandboxSettings.outputScale = 1;
  });

  describe('generate', () => {
    it('answers raw PNG bytes with the finish-reason, seed and request id headers', async () => {
      const { context, state } = sandbox();
      const response = await send(context, `${GENERATE}/core`, { parts: [['prompt', 'a red robot']] });
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('finish-reason')).toBe('SUCCESS');
      expect(Number(response.headers.get('seed'))).toBeGreaterThan(0);
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
      const image = await picture(response);
      expect(image.format).toBe('png');
      // Core draws ~1.5 MP (1280x1280 at 1:1), scaled by a quarter for the test.
      expect([image.width, image.height]).toEqual([320, 320]);
      expect(state.requests[0]?.fields).toEqual({ prompt: 'a red robot' });
    });

    it('sizes the output by aspect_ratio and encodes output_format', async () => {
      const { context } = sandbox();
      const wide = await picture(
        await send(context, `${GENERATE}/ultra`, {
          parts: [
            ['prompt', 'a castle'],
            ['aspect_ratio', '16:9'],
            ['output_format', 'jpeg'],
          ],
          accept: 'image/*',
        }),
      );
      expect(wide.format).toBe('jpeg');
      expect([wide.width, wide.height]).toEqual([336, 192]);
      const tall = await picture(
        await send(context, `${GENERATE}/sd3`, {
          parts: [
            ['prompt', 'a tower'],
            ['aspect_ratio', '9:21'],
          ],
        }),
      );
      expect(tall.height / tall.width).toBeCloseTo(21 / 9, 0);
    });

    it('answers JSON with base64 image, seed and finish_reason for accept: application/json', async () => {
      const { context } = sandbox();
      const response = await send(context, `${GENERATE}/core`, {
        parts: [
          ['prompt', 'a lighthouse'],
          ['output_format', 'webp'],
          ['seed', '1234'],
        ],
        accept: 'application/json',
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; type=image/webp');
      expect(response.headers.get('finish-reason')).toBeNull();
      const body = (await response.json()) as { image: string; seed: number; finish_reason: string };
      expect(body.seed).toBe(1234);
      expect(body.finish_reason).toBe('SUCCESS');
      const image = await decodeImage(Buffer.from(body.image, 'base64'));
      expect(image.format).toBe('webp');
    });

    it('draws different pictures for different prompts and the same one for the same request', async () => {
      const { context } = sandbox();
      const bytes = async (prompt: string): Promise<Buffer> =>
        Buffer.from(
          await (await send(context, `${GENERATE}/core`, { parts: [['prompt', prompt]] })).arrayBuffer(),
        );
      const first = await bytes('a cat');
      expect(first.equals(await bytes('a dog'))).toBe(false);
      expect(first.equals(await bytes('a cat'))).toBe(true);
    });

    it('keeps the init image proportions for sd3 image-to-image', async () => {
      const { context } = sandbox();
      const image = await picture(
        await send(context, `${GENERATE}/sd3`, {
          parts: [
            ['prompt', 'make it blue'],
            ['mode', 'image-to-image'],
            ['strength', '0.6'],
            ['image', { bytes: await png(512, 256) }],
          ],
        }),
      );
      // Sides are multiples of 64, so the proportions match to within a few percent.
      expect(Math.abs(image.width / image.height - 2)).toBeLessThan(0.1);
    });

    it('validates required fields, enums, ranges and mode rules', async () => {
      const { context } = sandbox();
      const errorsOf = async (path: string, parts: [string, Part][]): Promise<string[]> =>
        (await failure(await send(context, path, { parts }), 400)).errors;

      expect(await errorsOf(`${GENERATE}/core`, [['aspect_ratio', '1:1']])).toContain(
        'prompt: cannot be empty',
      );
      expect(
        await errorsOf(`${GENERATE}/core`, [
          ['prompt', 'x'],
          ['aspect_ratio', '4:3'],
          ['style_preset', 'watercolor'],
          ['seed', '-1'],
        ]),
      ).toEqual([
        'aspect_ratio: must be one of: 21:9, 16:9, 3:2, 5:4, 1:1, 4:5, 2:3, 9:16, 9:21',
        'seed: must be between 0 and 4294967294',
        expect.stringMatching(/^style_preset: must be one of/),
      ]);
      expect(
        await errorsOf(`${GENERATE}/ultra`, [
          ['prompt', 'x'],
          ['image', { bytes: input256 }],
        ]),
      ).toContain('strength: required when an image is provided');
      const sd3 = await errorsOf(`${GENERATE}/sd3`, [
        ['prompt', 'x'],
        ['mode', 'image-to-image'],
        ['output_format', 'webp'],
        ['cfg_scale', '11'],
      ]);
      expect(sd3).toEqual(
        expect.arrayContaining([
          'output_format: must be one of: jpeg, png',
          'cfg_scale: must be between 1 and 10',
          'image: required for image-to-image mode',
          'strength: required for image-to-image mode',
        ]),
      );
      expect(await errorsOf(`${GENERATE}/core`, [['prompt', 'x'.repeat(10_001)]])).toEqual([
        'prompt: must be at most 10000 characters',
      ]);
    });
  });

  describe('control and edit', () => {
    it('keeps the input size for sketch, structure and search-and-recolor', async () => {
      const { context } = sandbox();
      const input = await png(320, 192);
      const cases: [string, [string, Part]][] = [
        ['/v2beta/stable-image/control/sketch', ['control_strength', '0.4']],
        ['/v2beta/stable-image/control/structure', ['control_strength', '0.9']],
        ['/v2beta/stable-image/edit/search-and-recolor', ['select_prompt', 'the hat']],
      ];
      for (const [path, extra] of cases) {
        const image = await picture(
          await send(context, path, {
            parts: [['prompt', 'a golden statue'], extra, ['image', { bytes: input }]],
          }),
        );
        expect([image.width, image.height]).toEqual([320, 192]);
      }
    });

    it('sizes control/style by aspect_ratio and blends the style reference in', async () => {
      const { context } = sandbox();
      const styled = async (reference: Buffer): Promise<Buffer> => {
        const response = await send(context, '/v2beta/stable-image/control/style', {
          parts: [
            ['prompt', 'a house'],
            ['aspect_ratio', '3:2'],
            ['fidelity', '0.8'],
            ['image', { bytes: reference }],
          ],
        });
        expect(response.status).toBe(200);
        return Buffer.from(await response.arrayBuffer());
      };
      const first = await styled(input256);
      const image = await decodeImage(first);
      expect(image.width / image.height).toBeCloseTo(1.5, 1);
      expect(first.equals(await styled(await png(256, 256, 'other reference')))).toBe(false);
    });

    it('decodes WebP uploads and checks image dimension rules', async () => {
      const { context } = sandbox();
      const webp = await encodeImage(await decodeImage(input256), 'webp');
      const ok = await picture(
        await send(context, '/v2beta/stable-image/control/sketch', {
          parts: [
            ['prompt', 'a car'],
            ['image', { bytes: webp, type: 'image/webp', name: 'sketch.webp' }],
          ],
        }),
      );
      expect([ok.width, ok.height]).toEqual([256, 256]);

      const tooSmall = await failure(
        await send(context, '/v2beta/stable-image/control/sketch', {
          parts: [
            ['prompt', 'a car'],
            ['image', { bytes: await png(48, 48) }],
          ],
        }),
        400,
      );
      expect(tooSmall.name).toBe('bad_request');
      expect(tooSmall.errors[0]).toMatch(/^image: width and height must be at least 64 pixels/);

      const tooWide = await failure(
        await send(context, '/v2beta/stable-image/control/structure', {
          parts: [
            ['prompt', 'a car'],
            ['image', { bytes: await png(640, 128) }],
          ],
        }),
        400,
      );
      expect(tooWide.errors).toEqual(['image: aspect ratio must be between 1:2.5 and 2.5:1']);

      const notAnImage = await failure(
        await send(context, '/v2beta/stable-image/control/sketch', {
          parts: [
            ['prompt', 'a car'],
            ['image', { bytes: Buffer.from('not an image at all'), type: 'image/png' }],
          ],
        }),
        400,
      );
      expect(notAnImage.errors[0]).toMatch(/^image: could not be decoded/);

      const missing = await failure(
        await send(context, '/v2beta/stable-image/control/sketch', { parts: [['prompt', 'a car']] }),
        400,
      );
      expect(missing.errors).toEqual(['image: required']);
    });

    it('removes the background into a transparent PNG or WebP of the same size, and refuses jpeg', async () => {
      const { context } = sandbox();
      const cut = await picture(
        await send(context, '/v2beta/stable-image/edit/remove-background', {
          parts: [['image', { bytes: input256 }]],
        }),
      );
      expect(cut.format).toBe('png');
      expect([cut.width, cut.height]).toEqual([256, 256]);
      expect(cut.hasAlpha).toBe(true);

      const webp = await picture(
        await send(context, '/v2beta/stable-image/edit/remove-background', {
          parts: [
            ['image', { bytes: input256 }],
            ['output_format', 'webp'],
          ],
        }),
      );
      expect(webp.format).toBe('webp');
      expect(webp.hasAlpha).toBe(true);

      const jpeg = await failure(
        await send(context, '/v2beta/stable-image/edit/remove-background', {
          parts: [
            ['image', { bytes: input256 }],
            ['output_format', 'jpeg'],
          ],
        }),
        400,
      );
      expect(jpeg.errors).toEqual(['output_format: must be one of: png, webp']);
    });

    it('requires select_prompt and limits grow_mask for search-and-recolor', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, '/v2beta/stable-image/edit/search-and-recolor', {
          parts: [
            ['prompt', 'red'],
            ['grow_mask', '21'],
            ['image', { bytes: input256 }],
          ],
        }),
        400,
      );
      expect(body.errors).toEqual(['select_prompt: cannot be empty', 'grow_mask: must be between 0 and 20']);
    });
  });

  describe('upscale/fast', () => {
    it('answers 4x the input', async () => {
      const { context } = sandbox();
      const image = await picture(
        await send(context, '/v2beta/stable-image/upscale/fast', {
          parts: [
            ['image', { bytes: await png(96, 64) }],
            ['output_format', 'jpeg'],
          ],
        }),
      );
      expect(image.format).toBe('jpeg');
      expect([image.width, image.height]).toEqual([384, 256]);
    });

    it('refuses inputs over 1536 px a side', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, '/v2beta/stable-image/upscale/fast', {
          parts: [['image', { bytes: await png(1600, 40) }]],
        }),
        400,
      );
      expect(body.errors).toEqual([
        expect.stringMatching(/^image: width and height must be at most 1536 pixels/),
      ]);
    });
  });

  describe('3d', () => {
    function parseGlb(bytes: Buffer): { json: Record<string, unknown>; binLength: number } {
      expect(bytes.readUInt32LE(0)).toBe(0x46546c67);
      expect(bytes.readUInt32LE(4)).toBe(2);
      expect(bytes.readUInt32LE(8)).toBe(bytes.length);
      const jsonLength = bytes.readUInt32LE(12);
      expect(bytes.readUInt32LE(16)).toBe(0x4e4f534a);
      expect(jsonLength % 4).toBe(0);
      const json = JSON.parse(bytes.subarray(20, 20 + jsonLength).toString('utf8')) as Record<
        string,
        unknown
      >;
      const binAt = 20 + jsonLength;
      expect(bytes.readUInt32LE(binAt + 4)).toBe(0x004e4942);
      return { json, binLength: bytes.readUInt32LE(binAt) };
    }

    it('answers a valid GLB for stable-fast-3d and stable-point-aware-3d', async () => {
      const { context } = sandbox();
      const results: Buffer[] = [];
      for (const path of ['/v2beta/3d/stable-fast-3d', '/v2beta/3d/stable-point-aware-3d']) {
        const response = await send(context, path, {
          parts: [
            ['image', { bytes: input256 }],
            ['texture_resolution', '1024'],
            ['remesh', 'triangle'],
          ],
        });
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('model/gltf-binary');
        const bytes = Buffer.from(await response.arrayBuffer());
        const { json, binLength } = parseGlb(bytes);
        expect(json.asset).toMatchObject({ version: '2.0' });
        expect(binLength).toBeGreaterThanOrEqual(78);
        results.push(bytes);
      }
      expect(results[0]?.equals(results[1] ?? Buffer.alloc(0))).toBe(false);
    });

    it('validates the 3D parameters', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, '/v2beta/3d/stable-point-aware-3d', {
          parts: [
            ['image', { bytes: input256 }],
            ['texture_resolution', '4096'],
            ['foreground_ratio', '0.5'],
            ['target_count', '50'],
            ['target_type', 'edge'],
          ],
        }),
        400,
      );
      expect(body.errors).toEqual([
        'texture_resolution: must be one of: 512, 1024, 2048',
        'foreground_ratio: must be between 1 and 2',
        'target_type: must be one of: none, vertex, face',
        'target_count: must be between 100 and 20000',
      ]);
      const json = await failure(
        await send(context, '/v2beta/3d/stable-fast-3d', {
          parts: [['image', { bytes: input256 }]],
          accept: 'application/json',
        }),
        400,
      );
      expect(json.errors[0]).toMatch(/^accept:/);
    });
  });

  describe('protocol', () => {
    it('answers 401 without a bearer token', async () => {
      const { context, state } = sandbox();
      const body = await failure(
        await send(context, `${GENERATE}/core`, { parts: [['prompt', 'x']], key: null }),
        401,
      );
      expect(body.name).toBe('unauthorized');
      // A rejected request is still recorded, so tests can see what arrived.
      expect(state.requests).toHaveLength(1);
    });

    it('rejects a JSON body with 400: every endpoint is multipart', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, `${GENERATE}/core`, {
          body: JSON.stringify({ prompt: 'x' }),
          contentType: 'application/json',
        }),
        400,
      );
      expect(body.errors).toEqual(['content-type: must be multipart/form-data']);
    });

    it('answers 413 payload_too_large for bodies over 10 MiB', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, '/v2beta/stable-image/upscale/fast', {
          parts: [['image', { bytes: Buffer.alloc(10 * 1024 * 1024 + 1, 1) }]],
        }),
        413,
      );
      expect(body.name).toBe('payload_too_large');
    });

    it('answers 404 for unknown paths and generation_not_found for results', async () => {
      const { context } = sandbox();
      expect((await failure(await send(context, '/v2beta/stable-image/generate/nope'), 404)).name).toBe(
        'not_found',
      );
      const results = await stabilitySimulator.handle(
        new Request(`${BASE_URL}/v2beta/results/abc`, { headers: { authorization: `Bearer ${KEY}` } }),
        '/v2beta/results/abc',
        context,
      );
      expect((await failure(results, 404)).name).toBe('generation_not_found');
    });

    it('rejects accept headers it cannot answer', async () => {
      const { context } = sandbox();
      const body = await failure(
        await send(context, `${GENERATE}/core`, { parts: [['prompt', 'x']], accept: 'text/html' }),
        400,
      );
      expect(body.errors).toEqual(['accept: must be image/* or application/json']);
    });
  });

  describe('faults', () => {
    it.each([
      [400, 'bad_request'],
      [401, 'unauthorized'],
      [402, 'payment_required'],
      [403, 'content_moderation'],
      [413, 'payload_too_large'],
      [422, 'invalid_language'],
      [429, 'rate_limit_exceeded'],
      [500, 'internal_error'],
    ])('answers a scripted %i with name %s, once', async (status, name) => {
      const { context, state } = sandbox();
      state.addFault({ status, times: 1 });
      const body = await failure(
        await send(context, `${GENERATE}/core`, { parts: [['prompt', 'x']] }),
        status,
      );
      expect(body.name).toBe(name);
      expect((await send(context, `${GENERATE}/core`, { parts: [['prompt', 'x']] })).status).toBe(200);
    });

    it('names a 422 public_figure when the fault says so', async () => {
      const { context, state } = sandbox();
      state.addFault({ status: 422, outcome: 'public_figure', times: 1 });
      const body = await failure(await send(context, `${GENERATE}/ultra`, { parts: [['prompt', 'x']] }), 422);
      expect(body.name).toBe('public_figure');
    });

    it('answers moderated requests with HTTP 200, CONTENT_FILTERED and a blurred image', async () => {
      const { context, state } = sandbox();
      const parts: [string, Part][] = [
        ['prompt', 'something questionable'],
        ['seed', '7'],
      ];
      const clean = Buffer.from(await (await send(context, `${GENERATE}/core`, { parts })).arrayBuffer());
      state.addFault({ moderated: true, times: 2 });
      const filtered = await send(context, `${GENERATE}/core`, { parts });
      expect(filtered.status).toBe(200);
      expect(filtered.headers.get('finish-reason')).toBe('CONTENT_FILTERED');
      const bytes = Buffer.from(await filtered.arrayBuffer());
      expect(bytes.equals(clean)).toBe(false);
      const image = await decodeImage(bytes);
      expect([image.width, image.height]).toEqual([320, 320]);

      const json = await send(context, `${GENERATE}/core`, { parts, accept: 'application/json' });
      expect(((await json.json()) as { finish_reason: string }).finish_reason).toBe('CONTENT_FILTERED');
    });

    it('answers a moderated 3D request with 403 content_moderation', async () => {
      const { context, state } = sandbox();
      state.addFault({ moderated: true, times: 1 });
      const body = await failure(
        await send(context, '/v2beta/3d/stable-fast-3d', { parts: [['image', { bytes: input256 }]] }),
        403,
      );
      expect(body.name).toBe('content_moderation');
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
      const path = `${GENERATE}/core`;
      const request = post(path, { parts: [['prompt', 'x']], signal: controller.signal });
      const pending = stabilitySimulator.handle(request, path, watched);
      let settled = false;
      void pending.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
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

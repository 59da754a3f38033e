import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage } from '../../infra/local/sandbox/draw.ts';
import { type SandboxContext, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';
import {
  resetTripoSandbox,
  setTripoTimeline,
  tripoSandboxSettings,
  tripoSimulator,
} from '../../infra/local/sandbox/tripo.ts';

const BASE_URL = 'http://sandbox.test/__sandbox/tripo';
const API = `${BASE_URL}/v2/openapi`;
const KEY = 'tsk_sandbox_primary';
const OTHER_KEY = 'tsk_sandbox_other';

interface Envelope<T> {
  code: number;
  data: T;
}
interface TripoErrorBody {
  code: number;
  message: string;
  suggestion: string;
}
interface TaskData {
  task_id: string;
  type: string;
  status: string;
  input: Record<string, unknown>;
  output: Record<string, string>;
  progress: number;
  create_time: number;
  consumed_credit: number;
  queuing_num: number;
  running_left_time: number;
  error_code?: number;
  error_msg?: string;
}

function sandbox(): { state: SandboxState; context: SandboxContext } {
  const state = new SandboxState();
  return { state, context: sandboxContext(state, BASE_URL) };
}

async function handle(context: SandboxContext, request: Request): Promise<Response> {
  const path = new URL(request.url).pathname.slice(new URL(BASE_URL).pathname.length);
  const response = await tripoSimulator.handle(request, path, context);
  // Tripo tags every answer, errors and downloads included.
  expect(response.headers.get('x-tripo-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
  return response;
}

const auth = (key: string | null): Record<string, string> =>
  key === null ? {} : { authorization: `Bearer ${key}` };

function taskRequest(body: unknown, key: string | null = KEY, signal?: AbortSignal): Request {
  return new Request(`${API}/task`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(key) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

async function createTask(context: SandboxContext, body: unknown, key = KEY): Promise<string> {
  const response = await handle(context, taskRequest(body, key));
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
  const parsed = JSON.parse(text) as Envelope<{ task_id: string }>;
  expect(parsed.code).toBe(0);
  return parsed.data.task_id;
}

async function rejected(response: Response, status: number, code: number): Promise<TripoErrorBody> {
  const body = (await response.json()) as TripoErrorBody;
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(typeof body.message).toBe('string');
  expect(typeof body.suggestion).toBe('string');
  return body;
}

async function createRejected(
  context: SandboxContext,
  body: unknown,
  status: number,
  code: number,
): Promise<TripoErrorBody> {
  return rejected(await handle(context, taskRequest(body)), status, code);
}

async function poll(context: SandboxContext, id: string, key = KEY): Promise<TaskData> {
  const response = await handle(context, new Request(`${API}/task/${id}`, { headers: auth(key) }));
  expect(response.status).toBe(200);
  const body = (await response.json()) as Envelope<TaskData>;
  expect(body.code).toBe(0);
  return body.data;
}

/** Polls until the task reports a finalized status. */
async function finish(context: SandboxContext, id: string, key = KEY): Promise<TaskData> {
  for (let i = 0; i < 50; i++) {
    const data = await poll(context, id, key);
    if (data.status !== 'queued' && data.status !== 'running') return data;
  }
  throw new Error('task never finished');
}

async function upload(
  context: SandboxContext,
  bytes: Buffer,
  options: { path?: string; type?: string; key?: string } = {},
): Promise<Response> {
  const form = new FormData();
  form.append('file', new File([new Uint8Array(bytes)], 'input', { type: options.type ?? 'image/png' }));
  return handle(
    context,
    new Request(`${API}${options.path ?? '/upload'}`, {
      method: 'POST',
      headers: auth(options.key ?? KEY),
      body: form,
    }),
  );
}

async function uploadToken(context: SandboxContext, bytes: Buffer, key = KEY): Promise<string> {
  const response = await upload(context, bytes, { key });
  expect(response.status).toBe(200);
  const body = (await response.json()) as Envelope<{ image_token: string }>;
  expect(body.code).toBe(0);
  return body.data.image_token;
}

async function download(context: SandboxContext, url: string): Promise<Response> {
  return handle(context, new Request(url));
}

/** Checks the glTF-binary header and returns the parsed JSON chunk. */
function readGlb(bytes: Buffer): { asset: { version: string }; images?: unknown[]; materials: unknown[] } {
  expect(bytes.toString('latin1', 0, 4)).toBe('glTF');
  expect(bytes.readUInt32LE(4)).toBe(2);
  expect(bytes.readUInt32LE(8)).toBe(bytes.length);
  const jsonLength = bytes.readUInt32LE(12);
  expect(bytes.readUInt32LE(16)).toBe(0x4e4f534a);
  const binAt = 20 + jsonLength;
  expect(bytes.readUInt32LE(binAt + 4)).toBe(0x004e4942);
  expect(binAt + 8 + bytes.readUInt32LE(binAt)).toBe(bytes.length);
  return JSON.parse(bytes.toString('utf8', 20, binAt)) as {
    asset: { version: string };
    images?: unknown[];
    materials: unknown[];
  };
}

async function balance(context: SandboxContext, key = KEY): Promise<{ balance: number; frozen: number }> {
  const response = await handle(context, new Request(`${API}/user/balance`, { headers: auth(key) }));
  expect(response.status).toBe(200);
  return ((await response.json()) as Envelope<{ balance: number; frozen: number }>).data;
}

const png = (width: number, height: number, seed = 'input'): Promise<Buffer> =>
  drawImage({ seed, width, height, format: 'png' });

describe('Tripo v2 sandbox', () => {
  let server: Server;
  let origin: string;
  const served = new Map<string, { bytes: Buffer; type: string }>();

  beforeAll(async () => {
    // A tiny stand-in for wherever the BFF's input images live, fetched by `file.url`.
    server = createServer((request, response) => {
      const file = served.get(request.url ?? '');
      if (!file) {
        response.writeHead(404).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': file.type }).end(file.bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    resetTripoSandbox();
    tripoSandboxSettings.renderSize = 64;
  });
  afterEach(() => {
    resetTripoSandbox();
  });

  describe('task progression', () => {
    it('runs text_to_model through queued, running, 99 with empty output, then success with files', async () => {
      const { context, state } = sandbox();
      const id = await createTask(context, { type: 'text_to_model', prompt: 'a small cat' });
      expect(id).toMatch(/^[0-9a-f-]{36}$/);

      const seen: TaskData[] = [];
      for (let i = 0; i < 5; i++) seen.push(await poll(context, id));
      expect(seen.map((data) => data.status)).toEqual(['queued', 'queued', 'running', 'running', 'running']);
      expect(seen.map((data) => data.progress)).toEqual([0, 0, 32, 63, 99]);
      expect(seen.map((data) => data.queuing_num)).toEqual([1, 0, -1, -1, -1]);
      const times = seen.map((data) => data.running_left_time);
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThan(times[i - 1] ?? 0);
      for (const data of seen) {
        expect(data.output).toEqual({});
        expect(data).toMatchObject({ task_id: id, type: 'text_to_model', consumed_credit: 0 });
        expect(data.input).toEqual({ prompt: 'a small cat' });
      }
      expect(seen[0]?.create_time).toBeCloseTo(Date.now() / 1000, -1);

      const done = await poll(context, id);
      expect(done).toMatchObject({
        status: 'success',
        progress: 100,
        queuing_num: -1,
        running_left_time: -1,
      });
      // Default: textured + PBR, standard quality → 10 + 10 credits.
      expect(done.consumed_credit).toBe(20);
      expect(Object.keys(done.output).sort()).toEqual(['base_model', 'model', 'pbr_model', 'rendered_image']);
      expect(done.output.model).toMatch(
        new RegExp(`^${API.replaceAll('.', '\\.')}/__files/[0-9a-f]+/model\\.glb\\?Expires=\\d+$`),
      );
      expect(done.error_code).toBeUndefined();

      for (const name of ['model', 'pbr_model', 'base_model']) {
        const file = await download(context, done.output[name] ?? '');
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('model/gltf-binary');
        const gltf = readGlb(Buffer.from(await file.arrayBuffer()));
        expect(gltf.asset.version).toBe('2.0');
        // The textured models embed their texture; the base model is bare geometry.
        expect(gltf.images?.length ?? 0).toBe(name === 'base_model' ? 0 : 1);
      }
      const preview = await download(context, done.output.rendered_image ?? '');
      expect(preview.headers.get('content-type')).toBe('image/png');
      const image = await decodeImage(Buffer.from(await preview.arrayBuffer()));
      expect([image.format, image.width, image.height]).toEqual(['png', 64, 64]);

      // Terminal status repeats, with fresh links each time.
      const again = await poll(context, id);
      expect(again.status).toBe('success');
      expect(again.output.model).not.toBe(done.output.model);

      expect(state.requests[0]).toMatchObject({
        method: 'POST',
        path: '/v2/openapi/task',
        fields: { type: 'text_to_model', prompt: 'a small cat' },
      });
      expect(state.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    });

    it('follows the configured numbers of queued and running polls', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const instant = await createTask(context, { type: 'text_to_model', prompt: 'instant' });
      expect((await poll(context, instant)).status).toBe('success');

      setTripoTimeline(1, 1);
      const soon = await createTask(context, { type: 'text_to_model', prompt: 'soon' });
      const statuses: [string, number][] = [];
      for (let i = 0; i < 3; i++) {
        const data = await poll(context, soon);
        statuses.push([data.status, data.progress]);
      }
      expect(statuses).toEqual([
        ['queued', 0],
        ['running', 99],
        ['success', 100],
      ]);
    });

    it('leaves out pbr_model without PBR, and the texture when untextured; draws per request', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const plain = await finish(
        context,
        await createTask(context, { type: 'text_to_model', prompt: 'a mug', pbr: false, texture: false }),
      );
      expect(Object.keys(plain.output).sort()).toEqual(['base_model', 'model', 'rendered_image']);
      expect(plain.consumed_credit).toBe(10);
      const bare = readGlb(
        Buffer.from(await (await download(context, plain.output.model ?? '')).arrayBuffer()),
      );
      expect(bare.images).toBeUndefined();

      const textured = await finish(
        context,
        await createTask(context, {
          type: 'text_to_model',
          prompt: 'a vase',
          pbr: false,
          texture_quality: 'detailed',
        }),
      );
      expect(Object.keys(textured.output)).not.toContain('pbr_model');
      expect(textured.consumed_credit).toBe(30);
      const first = Buffer.from(await (await download(context, textured.output.model ?? '')).arrayBuffer());
      expect(readGlb(first).images).toHaveLength(1);

      const other = await finish(
        context,
        await createTask(context, {
          type: 'text_to_model',
          prompt: 'a lamp',
          pbr: false,
          texture_quality: 'detailed',
        }),
      );
      const second = Buffer.from(await (await download(context, other.output.model ?? '')).arrayBuffer());
      expect(first.equals(second)).toBe(false);
    });

    it('answers an FBX model when quad is on', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const done = await finish(
        context,
        await createTask(context, { type: 'text_to_model', prompt: 'a box', quad: true }),
      );
      expect(done.output.model).toMatch(/\/model\.fbx\?/);
      const file = await download(context, done.output.model ?? '');
      const text = Buffer.from(await file.arrayBuffer()).toString('utf8');
      expect(text.startsWith('; FBX 7.4.0 project file')).toBe(true);
      expect(text).toContain('PolygonVertexIndex: *16');
      expect(done.consumed_credit).toBe(25);
    });
  });

  describe('uploads and image_to_model', () => {
    it('uploads an image and generates from its image_token', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 1);
      const token = await uploadToken(context, await png(64, 48));
      expect(token).toMatch(/^[0-9a-f-]{36}$/);
      expect(state.requests[0]?.files.file?.[0]).toMatchObject({ type: 'image/png' });

      const id = await createTask(context, {
        type: 'image_to_model',
        file: { type: 'png', file_token: token },
        texture_alignment: 'geometry',
        orientation: 'align_image',
      });
      expect((await poll(context, id)).status).toBe('running');
      const done = await poll(context, id);
      expect(done.status).toBe('success');
      expect(done.consumed_credit).toBe(30);
      expect(done.input).toMatchObject({ file: { type: 'png', file_token: token } });
      const model = await download(context, done.output.model ?? '');
      expect(readGlb(Buffer.from(await model.arrayBuffer())).asset.version).toBe('2.0');
    });

    it('accepts WebP and JPEG on /upload/sts too', async () => {
      const { context } = sandbox();
      const source = await decodeImage(await png(40, 40));
      for (const format of ['webp', 'jpeg'] as const) {
        const bytes = await encodeImage(source, format);
        const response = await upload(context, bytes, { path: '/upload/sts', type: `image/${format}` });
        expect(response.status).toBe(200);
      }
    });

    it('rejects bad uploads with Tripo codes', async () => {
      const { context } = sandbox();
      await rejected(await upload(context, Buffer.alloc(0)), 400, 2003);
      const gif = Buffer.from('GIF89a\u0001\u0000\u0001\u0000\u0000\u0000\u0000;', 'latin1');
      await rejected(await upload(context, gif, { type: 'image/gif' }), 400, 2004);
      const small = await rejected(await upload(context, await png(10, 30)), 400, 1004);
      expect(small.message).toContain('10x30');
      const noFile = new FormData();
      noFile.append('image', 'nothing');
      await rejected(
        await handle(
          context,
          new Request(`${API}/upload`, { method: 'POST', headers: auth(KEY), body: noFile }),
        ),
        400,
        2003,
      );
      await rejected(
        await handle(
          context,
          new Request(`${API}/upload`, {
            method: 'POST',
            headers: { ...auth(KEY), 'content-type': 'application/json' },
            body: '{}',
          }),
        ),
        400,
        1003,
      );
    });

    it('fetches a file url, and rejects unreachable, WebP and unknown sources', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      served.set('/cat.png', { bytes: await png(50, 50, 'cat'), type: 'image/png' });
      const webp = await encodeImage(await decodeImage(await png(50, 50)), 'webp');
      served.set('/cat.webp', { bytes: webp, type: 'image/webp' });

      const id = await createTask(context, {
        type: 'image_to_model',
        file: { type: 'png', url: `${origin}/cat.png` },
      });
      expect((await finish(context, id)).status).toBe('success');

      await createRejected(
        context,
        { type: 'image_to_model', file: { url: `${origin}/missing.png` } },
        400,
        2003,
      );
      await createRejected(
        context,
        { type: 'image_to_model', file: { url: `${origin}/cat.webp` } },
        400,
        2004,
      );
      await createRejected(
        context,
        { type: 'image_to_model', file: { url: 'ftp://example.com/a.png' } },
        400,
        1004,
      );
      await createRejected(
        context,
        { type: 'image_to_model', file: { file_token: 'no-such-token' } },
        404,
        2019,
      );
      await createRejected(
        context,
        { type: 'image_to_model', file: { object: { bucket: 'tripo-data', key: 'x/y.png' } } },
        404,
        2019,
      );
      await createRejected(
        context,
        { type: 'image_to_model', file: { file_token: 'a', url: `${origin}/cat.png` } },
        400,
        1004,
      );
      await createRejected(context, { type: 'image_to_model', file: { type: 'png' } }, 400, 2003);
      await createRejected(context, { type: 'image_to_model' }, 400, 1004);
      await createRejected(context, { type: 'image_to_model', file: 'cat.png' }, 400, 1004);
    });

    it('keeps upload tokens to the key that uploaded them', async () => {
      const { context } = sandbox();
      const token = await uploadToken(context, await png(32, 32), OTHER_KEY);
      await createRejected(context, { type: 'image_to_model', file: { file_token: token } }, 404, 2019);
    });
  });

  describe('multiview_to_model', () => {
    it('generates from [front, left, back, right] with {} for missing views', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const front = await uploadToken(context, await png(40, 40, 'front'));
      served.set('/back.jpg', {
        bytes: await drawImage({ seed: 'back', width: 40, height: 40, format: 'jpeg' }),
        type: 'image/jpeg',
      });
      const id = await createTask(context, {
        type: 'multiview_to_model',
        files: [{ type: 'png', file_token: front }, {}, { type: 'jpg', url: `${origin}/back.jpg` }, {}],
        model_version: 'v3.0-20250812',
        geometry_quality: 'detailed',
      });
      const done = await finish(context, id);
      expect(done).toMatchObject({ status: 'success', type: 'multiview_to_model', consumed_credit: 30 });
      expect(Object.keys(done.output)).toContain('pbr_model');
    });

    it('enforces the multiview rules', async () => {
      const { context } = sandbox();
      const a = await uploadToken(context, await png(40, 40, 'a'));
      const b = await uploadToken(context, await png(40, 40, 'b'));
      const view = (token: string) => ({ type: 'png', file_token: token });
      const base = { type: 'multiview_to_model' };

      const three = await createRejected(context, { ...base, files: [view(a), view(b), {}] }, 400, 1004);
      expect(three.message).toContain('exactly 4');
      const noFront = await createRejected(
        context,
        { ...base, files: [{}, view(a), view(b), {}] },
        400,
        1004,
      );
      expect(noFront.message).toContain('front');
      const one = await createRejected(context, { ...base, files: [view(a), {}, {}, {}] }, 400, 1004);
      expect(one.message).toContain('at least 2');
      await createRejected(
        context,
        { ...base, files: [view(a), { file_token: b, url: 'https://x.test/a.png' }, {}, {}] },
        400,
        1004,
      );
      await createRejected(context, { ...base, files: 'abcd' }, 400, 1004);
      await createRejected(context, base, 400, 1004);
      await createRejected(
        context,
        { ...base, files: [view(a), view(b), {}, {}], original_task_id: 'x' },
        400,
        1004,
      );
      await createRejected(context, { ...base, original_task_id: 'x' }, 404, 2001);
      await createRejected(
        context,
        { ...base, files: [view(a), view(b), {}, {}], model_version: 'Turbo-v1.0-20250506' },
        400,
        2017,
      );
      await createRejected(
        context,
        { ...base, files: [view(a), view(b), {}, {}], model_version: 'v1.4-20240625' },
        400,
        2015,
      );
      // Multiview has no prompt.
      await createRejected(
        context,
        { ...base, files: [view(a), view(b), {}, {}], prompt: 'a cat' },
        400,
        1004,
      );
    });
  });

  describe('refine_model', () => {
    it('refines a successful v1.4 draft of the same key', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const draft = await createTask(context, {
        type: 'text_to_model',
        prompt: 'a robot',
        model_version: 'v1.4-20240625',
      });
      // Not refinable until the draft has succeeded.
      await createRejected(context, { type: 'refine_model', draft_model_task_id: draft }, 400, 2007);
      const drafted = await finish(context, draft);
      expect(Object.keys(drafted.output)).not.toContain('pbr_model');

      const refined = await createTask(context, { type: 'refine_model', draft_model_task_id: draft });
      const done = await finish(context, refined);
      expect(done).toMatchObject({ status: 'success', type: 'refine_model', consumed_credit: 30 });
      const model = await download(context, done.output.model ?? '');
      expect(readGlb(Buffer.from(await model.arrayBuffer())).asset.version).toBe('2.0');

      const twice = await createRejected(
        context,
        { type: 'refine_model', draft_model_task_id: refined },
        400,
        2006,
      );
      expect(twice.message).toContain('refined');
      // Another key cannot see the draft.
      await rejected(
        await handle(context, taskRequest({ type: 'refine_model', draft_model_task_id: draft }, OTHER_KEY)),
        404,
        2001,
      );
    });

    it('rejects drafts of v2.0 and later, failed drafts, unknown ids and extra fields', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      const modern = await createTask(context, { type: 'text_to_model', prompt: 'a car' });
      await finish(context, modern);
      await createRejected(context, { type: 'refine_model', draft_model_task_id: modern }, 400, 2006);

      state.addFault({ outcome: 'failed', times: 1 });
      const broken = await createTask(context, {
        type: 'text_to_model',
        prompt: 'a bus',
        model_version: 'v1.4-20240625',
      });
      expect((await finish(context, broken)).status).toBe('failed');
      await createRejected(context, { type: 'refine_model', draft_model_task_id: broken }, 400, 2007);

      await createRejected(context, { type: 'refine_model', draft_model_task_id: 'nope' }, 404, 2001);
      await createRejected(context, { type: 'refine_model' }, 400, 1004);
      // The Python BFF's extra refine fields are not part of Tripo's contract.
      const extra = await createRejected(
        context,
        { type: 'refine_model', draft_model_task_id: modern, texture: true, model_version: 'v2.5-20250123' },
        400,
        1004,
      );
      expect(extra.message).toContain('texture, model_version');
    });

    it('allows 5 refines in flight per key', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const drafts: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = await createTask(context, {
          type: 'text_to_model',
          prompt: `draft ${i}`,
          model_version: 'v1.4-20240625',
        });
        await finish(context, id);
        drafts.push(id);
      }
      setTripoTimeline(1, 0);
      for (const draft of drafts.slice(0, 5)) {
        await createTask(context, { type: 'refine_model', draft_model_task_id: draft });
      }
      const response = await handle(
        context,
        taskRequest({ type: 'refine_model', draft_model_task_id: drafts[5] }),
      );
      await rejected(response, 429, 2000);
    });
  });

  describe('authentication and key scoping', () => {
    it('answers 401/1002 without a tsk_ bearer key, and accepts the local stack placeholder', async () => {
      const { context, state } = sandbox();
      for (const key of [null, 'sk-not-tripo', '']) {
        await rejected(
          await handle(context, taskRequest({ type: 'text_to_model', prompt: 'x' }, key)),
          401,
          1002,
        );
      }
      const basic = new Request(`${API}/user/balance`, { headers: { authorization: `Basic ${KEY}` } });
      await rejected(await handle(context, basic), 401, 1002);
      // An auth failure takes no fault.
      state.addFault({ status: 500, times: 1 });
      await rejected(await handle(context, new Request(`${API}/user/balance`)), 401, 1002);
      await rejected(
        await handle(context, new Request(`${API}/user/balance`, { headers: auth(KEY) })),
        500,
        1000,
      );

      await createTask(context, { type: 'text_to_model', prompt: 'x' }, 'sandbox');
    });

    it('hides a task from other keys and answers 2001 for unknown ids', async () => {
      const { context } = sandbox();
      const id = await createTask(context, { type: 'text_to_model', prompt: 'mine' });
      const other = await handle(context, new Request(`${API}/task/${id}`, { headers: auth(OTHER_KEY) }));
      await rejected(other, 404, 2001);
      const unknown = await handle(context, new Request(`${API}/task/not-a-task`, { headers: auth(KEY) }));
      await rejected(unknown, 404, 2001);
      expect((await poll(context, id)).status).toBe('queued');
    });

    it('answers unknown routes and wrong methods without touching faults', async () => {
      const { context } = sandbox();
      expect((await handle(context, new Request(`${API}/tasks`, { headers: auth(KEY) }))).status).toBe(404);
      expect((await handle(context, new Request(`${API}/task`, { headers: auth(KEY) }))).status).toBe(405);
    });
  });

  describe('validation', () => {
    const text = { type: 'text_to_model', prompt: 'a tree' };

    it('rejects malformed bodies and unknown or missing types', async () => {
      const { context } = sandbox();
      await createRejected(context, '{not json', 400, 1003);
      await createRejected(context, '[1, 2]', 400, 1003);
      await createRejected(context, '', 400, 1003);
      const unsupported = await createRejected(context, { type: 'make_it_pretty' }, 400, 2002);
      expect(unsupported.message).toContain('make_it_pretty');
      await createRejected(context, { type: 'texture_model', original_model_task_id: 'x' }, 400, 2002);
      await createRejected(context, { prompt: 'no type' }, 400, 1004);
      await createRejected(context, { type: 5 }, 400, 1004);
    });

    it('checks prompts', async () => {
      const { context } = sandbox();
      await createRejected(context, { type: 'text_to_model' }, 400, 1004);
      await createRejected(context, { type: 'text_to_model', prompt: '   ' }, 400, 1004);
      await createRejected(context, { type: 'text_to_model', prompt: 'x'.repeat(1025) }, 400, 1004);
      await createTask(context, {
        type: 'text_to_model',
        prompt: 'x'.repeat(1024),
        negative_prompt: 'y'.repeat(255),
      });
      await createRejected(context, { ...text, negative_prompt: 'y'.repeat(256) }, 400, 1004);
      await createRejected(context, { type: 'text_to_model', prompt: 'a cat 🐱' }, 400, 2009);
      await createRejected(context, { type: 'text_to_model', prompt: 42 }, 400, 1004);
    });

    it('checks model versions and enums', async () => {
      const { context } = sandbox();
      for (const version of [
        'v2.5-20250123',
        'v2.0-20240919',
        'v3.1-20260211',
        'P1-20260311',
        'Turbo-v1.0-20250506',
      ]) {
        await createTask(context, { ...text, model_version: version });
      }
      await createRejected(context, { ...text, model_version: 'v9.9' }, 400, 2017);
      await createRejected(context, { ...text, model_version: 'v1.3-20240522' }, 400, 2015);
      await createRejected(context, { ...text, texture_quality: 'ultra' }, 400, 1004);
      await createTask(context, {
        ...text,
        texture_quality: 'extreme',
        style: 'object:clay',
        compress: 'geometry',
      });
      await createRejected(context, { ...text, style: 'object:lego' }, 400, 1004);
      await createRejected(context, { ...text, compress: 'draco' }, 400, 1004);
      await createRejected(context, { ...text, geometry_quality: 'ultra' }, 400, 1004);
      await createRejected(context, { ...text, texture: 'yes' }, 400, 1004);
      await createRejected(context, { ...text, model_seed: 1.5 }, 400, 1004);
      const image = { type: 'image_to_model', file: { file_token: 'unchecked-before-enums' } };
      await createRejected(context, { ...image, texture_alignment: 'mesh' }, 400, 1004);
      await createRejected(context, { ...image, orientation: 'upright' }, 400, 1004);
    });

    it('checks option combinations and face_limit ranges', async () => {
      const { context } = sandbox();
      const standard = await createRejected(
        context,
        { ...text, texture: false, pbr: false, texture_quality: 'standard' },
        400,
        1004,
      );
      expect(standard.message).toContain('texture_quality');
      await createTask(context, { ...text, texture: false, pbr: false });
      await createRejected(context, { ...text, generate_parts: true }, 400, 1004);
      await createRejected(
        context,
        { ...text, generate_parts: true, texture: false, pbr: false, quad: true },
        400,
        1004,
      );
      await createTask(context, { ...text, generate_parts: true, texture: false, pbr: false });
      await createRejected(
        context,
        {
          type: 'image_to_model',
          file: { file_token: 'x' },
          orientation: 'align_image',
          texture: false,
          pbr: false,
        },
        400,
        1004,
      );

      await createTask(context, { ...text, face_limit: 500_000 });
      await createRejected(context, { ...text, face_limit: 500_001 }, 400, 1004);
      await createRejected(context, { ...text, face_limit: 999, smart_low_poly: true }, 400, 1004);
      await createTask(context, { ...text, face_limit: 1000, smart_low_poly: true });
      await createRejected(
        context,
        { ...text, face_limit: 10_001, smart_low_poly: true, quad: true },
        400,
        1004,
      );
      await createTask(context, { ...text, face_limit: 500, smart_low_poly: true, quad: true });
      await createRejected(context, { ...text, face_limit: 47, model_version: 'P1-20260311' }, 400, 1004);
      await createRejected(context, { ...text, face_limit: 'many' }, 400, 1004);
    });

    it('rejects undocumented fields by default and can accept them', async () => {
      const { context, state } = sandbox();
      const body = { ...text, task_id: 'bff-task-1', provider: 'tripo', foreground_ratio: 0.85 };
      const error = await createRejected(context, body, 400, 1004);
      expect(error.message).toBe(
        'Unknown parameter(s) for text_to_model: task_id, provider, foreground_ratio',
      );

      tripoSandboxSettings.extraFields = 'accept';
      const id = await createTask(context, body);
      // The recorded request keeps what was sent; the task's input only what Tripo knows.
      expect(state.requests.at(-1)?.fields).toMatchObject({ task_id: 'bff-task-1', provider: 'tripo' });
      expect((await poll(context, id)).input).toEqual({ prompt: 'a tree' });
    });
  });

  describe('outcomes', () => {
    const cases: [string, Partial<TaskData>, number][] = [
      ['failed', { status: 'failed', error_code: 1001 }, 2],
      ['failed:2018', { status: 'failed', error_code: 2018 }, 2],
      ['banned', { status: 'banned' }, 3],
      ['expired', { status: 'expired' }, 1],
      ['cancelled', { status: 'cancelled' }, 1],
      ['unknown', { status: 'unknown' }, 2],
      ['exploded', { status: 'failed', error_code: 1000 }, 2],
    ];
    for (const [outcome, expected, atPoll] of cases) {
      it(`ends the next task "${outcome}" and refunds its credits`, async () => {
        const { context, state } = sandbox();
        setTripoTimeline(1, 2);
        state.addFault({ outcome, times: 1 });
        const id = await createTask(context, { type: 'text_to_model', prompt: outcome });
        expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });
        const statuses: string[] = [];
        let last: TaskData | undefined;
        for (let i = 0; i < atPoll + 1; i++) {
          last = await poll(context, id);
          statuses.push(last.status);
        }
        expect(statuses.slice(0, atPoll).every((status) => status === 'queued' || status === 'running')).toBe(
          true,
        );
        expect(last).toMatchObject({ ...expected, output: {}, consumed_credit: 0, running_left_time: -1 });
        if (outcome === 'exploded') expect(last?.error_msg).toContain('exploded');
        expect((await poll(context, id)).status).toBe(expected.status);
        expect(await balance(context)).toEqual({ balance: 10_000, frozen: 0 });
      });
    }

    it('keeps an outcome taken by a poll for the next created task', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      const running = await createTask(context, { type: 'text_to_model', prompt: 'first' });
      state.addFault({ outcome: 'banned', times: 1 });
      expect((await poll(context, running)).status).toBe('success');
      const next = await createTask(context, { type: 'text_to_model', prompt: 'second' });
      expect((await poll(context, next)).status).toBe('banned');
    });
  });

  describe('faults', () => {
    const statusCases: [number, number][] = [
      [400, 1004],
      [401, 1002],
      [403, 2010],
      [404, 2001],
      [429, 2000],
      [500, 1000],
      [503, 1000],
    ];
    for (const [status, code] of statusCases) {
      it(`answers a ${status} fault with code ${code}`, async () => {
        const { context, state } = sandbox();
        state.addFault({ status, times: 1 });
        const response = await handle(context, taskRequest({ type: 'text_to_model', prompt: 'x' }));
        await rejected(response, status, code);
        expect(response.headers.get('retry-after')).toBe(status === 429 ? '10' : null);
        // The fault is used up.
        await createTask(context, { type: 'text_to_model', prompt: 'x' });
      });
    }

    it('lets a four-digit outcome pick the code, on polls, uploads and balance too', async () => {
      const { context, state } = sandbox();
      const id = await createTask(context, { type: 'text_to_model', prompt: 'x' });
      state.addFault({ status: 429, outcome: '1007', times: 1 });
      const limited = await handle(context, new Request(`${API}/task/${id}`, { headers: auth(KEY) }));
      await rejected(limited, 429, 1007);
      expect(limited.headers.get('retry-after')).toBe('10');
      state.addFault({ status: 500, outcome: '1001', times: 2 });
      await rejected(await upload(context, await png(32, 32)), 500, 1001);
      await rejected(
        await handle(context, new Request(`${API}/user/balance`, { headers: auth(KEY) })),
        500,
        1001,
      );
      expect((await poll(context, id)).status).toBe('queued');
    });

    it('rejects the next valid create with 2008 when moderated', async () => {
      const { context, state } = sandbox();
      state.addFault({ moderated: true, times: 1 });
      // An invalid request does not use up the moderation.
      await createRejected(context, { type: 'text_to_model' }, 400, 1004);
      const body = await createRejected(context, { type: 'text_to_model', prompt: 'bad' }, 400, 2008);
      expect(body.message).toContain('content policy');
      await createTask(context, { type: 'text_to_model', prompt: 'fine' });
      expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });
    });

    it('hangs on a timeout fault until the client goes away', async () => {
      const { context, state } = sandbox();
      state.addFault({ timeout: true, times: 1 });
      const abort = new AbortController();
      const pending = handle(context, taskRequest({ type: 'text_to_model', prompt: 'x' }, KEY, abort.signal));
      let settled = false;
      pending.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(settled).toBe(false);
      abort.abort();
      await expect(pending).rejects.toBeDefined();
    });
  });

  describe('result URLs', () => {
    it('expire five minutes after they are issued; each poll issues fresh ones', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      let now = Date.parse('2026-01-01T00:00:00Z');
      tripoSandboxSettings.now = () => now;
      const done = await finish(
        context,
        await createTask(context, { type: 'text_to_model', prompt: 'clock' }),
      );
      const url = done.output.model ?? '';
      expect(url).toContain(`Expires=${Math.floor(now / 1000) + 300}`);

      now += 5 * 60 * 1000;
      expect((await download(context, url)).status).toBe(200);
      now += 1000;
      const expired = await download(context, url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('AccessDenied');

      const fresh = await poll(context, done.task_id);
      expect((await download(context, fresh.output.model ?? '')).status).toBe(200);
      expect((await download(context, `${API}/__files/abc/model.glb`)).status).toBe(404);
      // A link only serves the file it was issued for.
      expect(
        (await download(context, (fresh.output.model ?? '').replace('model.glb', 'base_model.glb'))).status,
      ).toBe(404);
    });
  });

  describe('concurrency and credits', () => {
    it('allows 10 queued or running generation tasks per key, then 429/2000', async () => {
      const { context } = sandbox();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++)
        ids.push(await createTask(context, { type: 'text_to_model', prompt: `n${i}` }));
      const response = await handle(context, taskRequest({ type: 'text_to_model', prompt: 'eleventh' }));
      await rejected(response, 429, 2000);
      expect(response.headers.get('retry-after')).toBe('10');
      // Other keys and the P1 bucket are counted separately.
      await createTask(context, { type: 'text_to_model', prompt: 'other' }, OTHER_KEY);
      await createTask(context, { type: 'text_to_model', prompt: 'p1', model_version: 'P1-20260311' });

      await finish(context, ids[0] ?? '');
      await createTask(context, { type: 'text_to_model', prompt: 'now it fits' });
    });

    it('stops counting unwatched tasks after 30 minutes', async () => {
      const { context } = sandbox();
      let now = Date.now();
      tripoSandboxSettings.now = () => now;
      for (let i = 0; i < 10; i++) await createTask(context, { type: 'text_to_model', prompt: `n${i}` });
      await createRejected(context, { type: 'text_to_model', prompt: 'full' }, 429, 2000);
      now += 30 * 60 * 1000 + 1;
      await createTask(context, { type: 'text_to_model', prompt: 'later' });
    });

    it('freezes, settles and refuses credits', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      tripoSandboxSettings.initialBalance = 50;
      expect(await balance(context)).toEqual({ balance: 50, frozen: 0 });
      const id = await createTask(context, {
        type: 'image_to_model',
        file: { file_token: await uploadToken(context, await png(30, 30)) },
      });
      expect(await balance(context)).toEqual({ balance: 20, frozen: 30 });
      await finish(context, id);
      expect(await balance(context)).toEqual({ balance: 20, frozen: 0 });
      const error = await createRejected(
        context,
        { type: 'text_to_model', prompt: 'x', texture_quality: 'detailed' },
        403,
        2010,
      );
      expect(error.message).toContain('30 credits');
      await createTask(context, { type: 'text_to_model', prompt: 'x' });
      expect(await balance(context, OTHER_KEY)).toEqual({ balance: 50, frozen: 0 });
    });
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage } from '../../infra/local/sandbox/draw.ts';
import { type SandboxContext, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';
import {
  pyramidGlb,
  resetTripoSandbox,
  setTripoTimeline,
  tripoCalls,
  tripoEndpoints,
  tripoSandboxSettings,
  tripoSimulator,
} from '../../infra/local/sandbox/tripo.ts';

const BASE_URL = 'http://sandbox.test/__sandbox/tripo';
const API = `${BASE_URL}/v3`;
const KEY = 'tsk_sandbox_primary';
const OTHER_KEY = 'tsk_sandbox_other';

const TEXT = '/generation/text-to-model';
const IMAGE = '/generation/image-to-model';
const MULTIVIEW = '/generation/multiview-to-model';
const TEXTURE = '/models/texture';
const H = 'v3.1-20260211';
const P1 = 'P1-20260311';
const P2 = 'P2-20260801';

interface Envelope<T> {
  code: number;
  status: string;
  data: T;
}
interface TripoErrorBody {
  code: number;
  status: string;
  message: string;
  suggestion: string;
  request_id: string;
}
interface TaskData {
  task_id: string;
  type: string;
  status: string;
  progress: number;
  input: Record<string, unknown>;
  output: Record<string, string>;
  credits_consumed: number;
  created_at: string;
  completed_at?: string;
  error_code?: number;
  error_message?: string;
}
interface Gltf {
  asset: { version: string };
  images?: unknown[];
  materials: { pbrMetallicRoughness: { baseColorFactor: number[] } }[];
  accessors: { max?: number[] }[];
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

function post(path: string, body: unknown, key: string | null = KEY, signal?: AbortSignal): Request {
  return new Request(`${API}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(key) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const get = (path: string, key: string | null = KEY): Request =>
  new Request(`${API}${path}`, { headers: auth(key) });

async function ok<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
  const body = JSON.parse(text) as Envelope<T>;
  expect({ code: body.code, status: body.status }).toEqual({ code: 0, status: 'success' });
  return body.data;
}

async function createTask(context: SandboxContext, path: string, body: unknown, key = KEY): Promise<string> {
  const data = await ok<{ task_id: string; type: string; status: string }>(
    await handle(context, post(path, body, key)),
  );
  expect(data.status).toBe('queued');
  return data.task_id;
}

async function rejected(response: Response, status: number, code: number): Promise<TripoErrorBody> {
  const body = (await response.json()) as TripoErrorBody;
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(body.status).toBe('error');
  expect(typeof body.message).toBe('string');
  expect(typeof body.suggestion).toBe('string');
  expect(body.request_id).toBe(response.headers.get('x-tripo-trace-id'));
  return body;
}

async function createRejected(
  context: SandboxContext,
  path: string,
  body: unknown,
  status: number,
  code: number,
): Promise<TripoErrorBody> {
  return rejected(await handle(context, post(path, body)), status, code);
}

async function poll(context: SandboxContext, id: string, key = KEY): Promise<TaskData> {
  return ok<TaskData>(await handle(context, get(`/tasks/${id}`, key)));
}

/** Polls until the task reports anything but queued or running. */
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
  options: { type?: string; key?: string; part?: string; extra?: Record<string, string> } = {},
): Promise<Response> {
  const form = new FormData();
  form.append(
    options.part ?? 'file',
    new File([new Uint8Array(bytes)], 'input', { type: options.type ?? 'image/png' }),
  );
  for (const [name, value] of Object.entries(options.extra ?? {})) form.append(name, value);
  return handle(
    context,
    new Request(`${API}/files`, { method: 'POST', headers: auth(options.key ?? KEY), body: form }),
  );
}

async function uploadToken(context: SandboxContext, bytes: Buffer, key = KEY): Promise<string> {
  const data = await ok<{ file_token: string }>(await upload(context, bytes, { key }));
  expect(data.file_token).toMatch(/^file_[0-9a-f-]{36}$/);
  return data.file_token;
}

async function download(context: SandboxContext, url: string): Promise<Response> {
  return handle(context, new Request(url));
}

async function downloadBytes(context: SandboxContext, url: string | undefined): Promise<Buffer> {
  const response = await download(context, url ?? '');
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** Checks the glTF-binary header and returns the parsed JSON chunk. */
function readGlb(bytes: Buffer): Gltf {
  expect(bytes.toString('latin1', 0, 4)).toBe('glTF');
  expect(bytes.readUInt32LE(4)).toBe(2);
  expect(bytes.readUInt32LE(8)).toBe(bytes.length);
  const jsonLength = bytes.readUInt32LE(12);
  expect(bytes.readUInt32LE(16)).toBe(0x4e4f534a);
  const binAt = 20 + jsonLength;
  expect(bytes.readUInt32LE(binAt + 4)).toBe(0x004e4942);
  expect(binAt + 8 + bytes.readUInt32LE(binAt)).toBe(bytes.length);
  return JSON.parse(bytes.toString('utf8', 20, binAt)) as Gltf;
}

async function balance(context: SandboxContext, key = KEY): Promise<{ balance: number; frozen: number }> {
  return ok<{ balance: number; frozen: number }>(await handle(context, get('/account/balance', key)));
}

const png = (width: number, height: number, seed = 'input'): Promise<Buffer> =>
  drawImage({ seed, width, height, format: 'png' });

/** A single-colour PNG. */
function solid(rgb: [number, number, number], size = 32): Promise<Buffer> {
  const data = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) data.set([...rgb, 255], i * 4);
  return encodeImage({ data, width: size, height: size }, 'png');
}

/** Average red, green and blue of an encoded image. */
async function averageRgb(bytes: Buffer): Promise<[number, number, number]> {
  const image = await decodeImage(bytes);
  const sums = [0, 0, 0];
  const pixels = image.width * image.height;
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) sums[c] = (sums[c] ?? 0) + (image.data[i * 4 + c] ?? 0);
  }
  const [r, g, b] = sums.map((sum) => sum / pixels);
  return [r ?? 0, g ?? 0, b ?? 0];
}

const sampleGlb = (): Buffer => pyramidGlb('0123456789abcdef', { colour: [0.5, 0.5, 0.5], pbr: false });

describe('Tripo v3 sandbox', () => {
  let server: Server;
  let origin: string;
  const served = new Map<string, { bytes: Buffer; type: string }>();

  beforeAll(async () => {
    // A tiny stand-in for wherever the BFF's inputs live, fetched by URL references.
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

  describe('text-to-model and task progression', () => {
    it('runs a task through queued, running, 99, then success with a GLB and a preview', async () => {
      const { context, state } = sandbox();
      const created = await ok<{ task_id: string; type: string; status: string }>(
        await handle(context, post(TEXT, { prompt: 'a small cat', model: H })),
      );
      expect(created).toEqual({
        task_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: 'text_to_model',
        status: 'queued',
      });
      const id = created.task_id;

      const seen: TaskData[] = [];
      for (let i = 0; i < 5; i++) seen.push(await poll(context, id));
      expect(seen.map((data) => data.status)).toEqual(['queued', 'queued', 'running', 'running', 'running']);
      expect(seen.map((data) => data.progress)).toEqual([0, 0, 32, 63, 99]);
      for (const data of seen) {
        expect(data).toMatchObject({ task_id: id, type: 'text_to_model', output: {}, credits_consumed: 0 });
        expect(data.input).toEqual({ prompt: 'a small cat', model: H });
        expect(data.completed_at).toBeUndefined();
        expect(data.error_code).toBeUndefined();
      }
      expect(Date.parse(seen[0]?.created_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
      expect(seen[0]?.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const done = await poll(context, id);
      expect(done).toMatchObject({ status: 'success', progress: 100, credits_consumed: 20 });
      expect(done.completed_at).toMatch(/Z$/);
      expect(done).not.toHaveProperty('error_code');
      expect(done).not.toHaveProperty('error_message');
      expect(Object.keys(done.output).sort()).toEqual(['model_url', 'rendered_image_url']);
      expect(done.output.model_url).toMatch(
        new RegExp(`^${API.replaceAll('.', '\\.')}/__files/[0-9a-f]+/model\\.glb\\?Expires=\\d+$`),
      );

      const model = await download(context, done.output.model_url ?? '');
      expect(model.headers.get('content-type')).toBe('model/gltf-binary');
      const gltf = readGlb(Buffer.from(await model.arrayBuffer()));
      expect(gltf.asset.version).toBe('2.0');
      // Textured (the default): the texture is embedded.
      expect(gltf.images).toHaveLength(1);
      const preview = await download(context, done.output.rendered_image_url ?? '');
      expect(preview.headers.get('content-type')).toBe('image/png');
      const image = await decodeImage(Buffer.from(await preview.arrayBuffer()));
      expect([image.format, image.width, image.height]).toEqual(['png', 64, 64]);

      // The terminal status repeats, with fresh links each time.
      const again = await poll(context, id);
      expect(again).toMatchObject({ status: 'success', completed_at: done.completed_at });
      expect(again.output.model_url).not.toBe(done.output.model_url);

      expect(state.requests[0]).toMatchObject({
        method: 'POST',
        path: '/v3/generation/text-to-model',
        fields: { prompt: 'a small cat', model: H },
      });
      expect(state.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    });

    it('gives concurrent polls of a task that just ended the same result', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const id = await createTask(context, TEXT, { prompt: 'race', model: H });
      const [first, second] = await Promise.all([poll(context, id), poll(context, id)]);
      for (const data of [first, second]) {
        expect(data?.status).toBe('success');
        expect(Object.keys(data?.output ?? {}).sort()).toEqual(['model_url', 'rendered_image_url']);
      }
      expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 0 });
    });

    it('follows the configured numbers of queued and running polls', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const instant = await createTask(context, TEXT, { prompt: 'instant', model: H });
      expect((await poll(context, instant)).status).toBe('success');

      setTripoTimeline(1, 1);
      const soon = await createTask(context, TEXT, { prompt: 'soon', model: H });
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

    it('makes bare geometry without texture and pbr, an FBX with quad, and prices add-ons', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const bare = await finish(
        context,
        await createTask(context, TEXT, { prompt: 'a mug', model: H, texture: false, pbr: false }),
      );
      expect(bare.credits_consumed).toBe(10);
      expect(readGlb(await downloadBytes(context, bare.output.model_url)).images).toBeUndefined();

      const detailed = await finish(
        context,
        await createTask(context, TEXT, {
          prompt: 'a vase',
          model: H,
          pbr: false,
          texture_quality: 'detailed',
          geometry_quality: 'detailed',
        }),
      );
      expect(detailed.credits_consumed).toBe(20 + 10 + 20);

      const quad = await finish(
        context,
        await createTask(context, TEXT, { prompt: 'a box', model: H, quad: true }),
      );
      expect(quad.credits_consumed).toBe(25);
      expect(quad.output.model_url).toMatch(/\/model\.fbx\?Expires=\d+$/);
      const fbx = await downloadBytes(context, quad.output.model_url);
      expect(fbx.toString('utf8', 0, 12)).toBe('; FBX 7.4.0 ');

      const p2 = await finish(
        context,
        await createTask(context, TEXT, { prompt: 'p2', model: P2, quad: true }),
      );
      expect(p2.credits_consumed).toBe(115);
      expect(p2.output.model_url).toContain('/model.fbx');
      const p1 = await finish(
        context,
        await createTask(context, TEXT, { prompt: 'p1', model: P1, texture: false, pbr: false }),
      );
      expect(p1.credits_consumed).toBe(30);

      const parts = await finish(
        context,
        await createTask(context, TEXT, {
          prompt: 'a robot',
          model: H,
          generate_parts: true,
          texture: false,
          pbr: false,
          quad: true,
        }),
      );
      // generate_parts ignores quad: a GLB, and no quad surcharge.
      expect(parts.credits_consumed).toBe(10 + 20);
      expect(parts.output.model_url).toContain('/model.glb');
      const lowPoly = await finish(
        context,
        await createTask(context, TEXT, {
          prompt: 'a tree',
          model: H,
          smart_low_poly: true,
          face_limit: 5000,
          texture_quality: 'extreme',
        }),
      );
      expect(lowPoly.credits_consumed).toBe(20 + 20 + 10);
    });

    it('keeps progress monotone and reports a stuck task with status:running forever', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(1, 2);
      state.addFault({ outcome: 'status:running', times: 1 });
      const id = await createTask(context, TEXT, { prompt: 'stuck', model: H });
      const progress: number[] = [];
      for (let i = 0; i < 8; i++) {
        const data = await poll(context, id);
        expect(data.status).toBe(i === 0 ? 'queued' : 'running');
        progress.push(data.progress);
      }
      expect(progress).toEqual([0, 48, 99, 99, 99, 99, 99, 99]);
      expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });

      state.addFault({ outcome: 'status:queued', times: 1 });
      const queued = await createTask(context, TEXT, { prompt: 'queued', model: H });
      for (let i = 0; i < 6; i++) expect((await poll(context, queued)).status).toBe('queued');
    });
  });

  describe('uploads and image-to-model', () => {
    it('uploads images and models and answers file_<uuid> tokens', async () => {
      const { context, state } = sandbox();
      await uploadToken(context, await png(40, 30));
      await uploadToken(context, await drawImage({ seed: 'j', width: 32, height: 32, format: 'jpeg' }));
      const webp = await encodeImage(
        { data: new Uint8Array(16 * 16 * 4).fill(200), width: 16, height: 16 },
        'webp',
      );
      await uploadToken(context, webp);
      await uploadToken(context, sampleGlb());
      await uploadToken(context, Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'));
      await uploadToken(context, Buffer.from('solid t\nfacet normal 0 0 1\nendfacet\nendsolid t\n'));
      const binaryStl = Buffer.alloc(84 + 50);
      binaryStl.writeUInt32LE(1, 80);
      await uploadToken(context, binaryStl);
      await uploadToken(context, Buffer.from('; FBX 7.4.0 project file\nFBXHeaderExtension: {\n}\n'));
      expect(state.requests[0]).toMatchObject({ method: 'POST', path: '/v3/files' });
      expect(state.requests[0]?.files.file).toEqual([
        { filename: 'input', type: 'image/png', size: expect.any(Number) },
      ]);
    });

    it('rejects bad uploads with Tripo codes', async () => {
      const { context } = sandbox();
      await rejected(await upload(context, Buffer.alloc(0)), 400, 2003);
      await rejected(await upload(context, Buffer.from('GIF89a......')), 400, 2004);
      await rejected(await upload(context, Buffer.from('just some text')), 400, 2004);
      // A .gltf (JSON) model cannot be uploaded.
      await rejected(await upload(context, Buffer.from('{"asset":{"version":"2.0"}}')), 400, 2004);
      const corrupt = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(20)]);
      await rejected(await upload(context, corrupt), 400, 2004);
      const huge = Buffer.alloc(20 * 1024 * 1024 + 1);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(huge);
      const tooBig = await rejected(await upload(context, huge), 400, 1004);
      expect(tooBig.message).toContain('20 MB');
      await rejected(await upload(context, await png(16, 16), { part: 'image' }), 400, 1004);
      await rejected(await upload(context, await png(16, 16), { extra: { purpose: 'input' } }), 400, 1004);
      // A text part named file is not a file.
      const textPart = new FormData();
      textPart.append('file', 'file_123');
      const notAFile = await rejected(
        await handle(
          context,
          new Request(`${API}/files`, { method: 'POST', headers: auth(KEY), body: textPart }),
        ),
        400,
        1004,
      );
      expect(notAFile.message).toContain('part file is required');
      const json = await handle(context, post('/files', { file: 'x' }));
      await rejected(json, 415, 1003);
    });

    it('generates from a token as a bare string, an object, or the legacy file object', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      const token = await uploadToken(context, await solid([255, 0, 0]));
      for (const reference of [
        { input: token },
        { input: { file_token: token, type: 'png' } },
        { file: { type: 'png', file_token: token } },
      ]) {
        const id = await createTask(context, IMAGE, { ...reference, model: H });
        const done = await finish(context, id);
        expect(done).toMatchObject({ type: 'image_to_model', status: 'success', credits_consumed: 30 });
        expect(done.input).toEqual({ ...reference, model: H });
        // The preview blends the (red) input picture.
        const [r, , b] = await averageRgb(await downloadBytes(context, done.output.rendered_image_url));
        expect(r).toBeGreaterThan(b);
      }
      // Untextured: the material takes the input's colour.
      const bare = await finish(
        context,
        await createTask(context, IMAGE, { input: token, model: H, texture: false, pbr: false }),
      );
      const colour = readGlb(await downloadBytes(context, bare.output.model_url)).materials[0]
        ?.pbrMetallicRoughness.baseColorFactor;
      expect(colour?.map((value) => Math.round(value * 10) / 10)).toEqual([1, 0, 0, 1]);
      expect(tripoEndpoints(state.requests).slice(0, 3)).toEqual([
        'POST /v3/files',
        'POST /v3/generation/image-to-model',
        'GET /v3/tasks/{task_id}',
      ]);
    });

    it('fetches URL inputs, and rejects unreachable, base64 and unknown references', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      served.set('/front.png', { bytes: await solid([0, 0, 255]), type: 'image/png' });
      const done = await finish(
        context,
        await createTask(context, IMAGE, { input: `${origin}/front.png`, model: H }),
      );
      expect(done.status).toBe('success');
      await createTask(context, IMAGE, { input: { url: `${origin}/front.png` }, model: H });

      await createRejected(context, IMAGE, { input: `${origin}/missing.png`, model: H }, 400, 2003);
      // The side rule of uploads holds for images referenced by URL too, read from the header.
      served.set('/wide.png', { bytes: await png(6001, 8), type: 'image/png' });
      expect(
        (await createRejected(context, IMAGE, { input: `${origin}/wide.png`, model: H }, 400, 1004)).message,
      ).toContain('image sides must be at most 6000 px (got 6001x8)');
      const dataUrl = `data:image/png;base64,${(await png(8, 8)).toString('base64')}`;
      expect(
        (await createRejected(context, IMAGE, { input: dataUrl, model: H }, 400, 1004)).message,
      ).toContain('base64');
      await createRejected(context, IMAGE, { input: { data: 'aGVsbG8=' }, model: H }, 400, 1004);
      await createRejected(
        context,
        IMAGE,
        { input: 'file_00000000-0000-0000-0000-000000000000', model: H },
        400,
        1004,
      );
      await createRejected(context, IMAGE, { input: 'not-a-reference', model: H }, 400, 1004);
      await createRejected(
        context,
        IMAGE,
        { input: { object: { bucket: 'b', key: 'k' } }, model: H },
        400,
        1004,
      );
      await createRejected(
        context,
        IMAGE,
        { input: { file_token: 'file_x', url: 'https://x.test/a.png' }, model: H },
        400,
        1004,
      );
      await createRejected(context, IMAGE, { model: H }, 400, 1004);
      const token = await uploadToken(context, await png(16, 16));
      await createRejected(
        context,
        IMAGE,
        { input: token, file: { file_token: token }, model: H },
        400,
        1004,
      );
      // A model file is not an image.
      const glb = await uploadToken(context, sampleGlb());
      await createRejected(context, IMAGE, { input: glb, model: H }, 400, 2004);
      // A task id must name an image task of this key: the sandbox makes none.
      await createRejected(context, IMAGE, { input: done.task_id, model: H }, 400, 2006);
      await createRejected(
        context,
        IMAGE,
        { input: '01234567-89ab-cdef-0123-456789abcdef', model: H },
        404,
        2001,
      );
    });

    it('keeps file tokens to the key that uploaded them, for a day', async () => {
      const { context } = sandbox();
      let now = Date.parse('2026-12-01T00:00:00Z');
      tripoSandboxSettings.now = () => now;
      const token = await uploadToken(context, await png(16, 16));
      await createTask(context, IMAGE, { input: token, model: H });
      const foreign = await handle(context, post(IMAGE, { input: token, model: H }, OTHER_KEY));
      await rejected(foreign, 400, 1004);
      now += 24 * 60 * 60 * 1000 + 1;
      const expired = await createRejected(context, IMAGE, { input: token, model: H }, 400, 1004);
      expect(expired.message).toContain('expired');
    });
  });

  describe('multiview-to-model', () => {
    it('accepts view-keyed objects, 4 positional strings, and legacy files', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const front = await uploadToken(context, await solid([0, 255, 0]));
      const back = await uploadToken(context, await png(32, 32, 'back'));
      const left = await uploadToken(context, await png(32, 32, 'left'));
      for (const shape of [
        { inputs: [{ front }, { back }] },
        { inputs: [{ back }, { front: { file_token: front } }, { left }] },
        { inputs: [front, '', back, ''] },
        { files: [{ file_token: front }, {}, { type: 'png', file_token: back }, {}] },
      ]) {
        const done = await finish(context, await createTask(context, MULTIVIEW, { ...shape, model: H }));
        expect(done).toMatchObject({ type: 'multiview_to_model', status: 'success', credits_consumed: 30 });
        const [r, g] = await averageRgb(await downloadBytes(context, done.output.rendered_image_url));
        expect(g).toBeGreaterThan(r);
      }
    });

    it('enforces the multiview rules', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const a = await uploadToken(context, await png(16, 16, 'a'));
      const b = await uploadToken(context, await png(16, 16, 'b'));
      const bad: unknown[] = [
        { inputs: [a, { back: b }] },
        { inputs: [{ front: a }, { front: b }] },
        { inputs: [{ back: a }, { left: b }] },
        { inputs: [{ front: a }] },
        { inputs: [a, b, ''] },
        { inputs: ['', a, b, ''] },
        { inputs: [a, '', '', ''] },
        { inputs: [{ top: a }, { front: b }] },
        { inputs: [{ front: a, back: b }] },
        { inputs: [{ front: a }, { back: '' }] },
        { inputs: [{ file_token: a }, { file_token: b }] },
        { inputs: [] },
        { inputs: [{ front: a }, { back: b }], files: [{ file_token: a }, {}, { file_token: b }, {}] },
        { files: [{ file_token: a }, { file_token: b }] },
        { files: [a, '', b, ''] },
        {},
      ];
      for (const body of bad)
        await createRejected(context, MULTIVIEW, { ...(body as object), model: H }, 400, 1004);
      // v2's original_task_id is not a v3 field.
      await createRejected(context, MULTIVIEW, { original_task_id: 'x', model: H }, 400, 1004);

      const own = await createTask(context, TEXT, { prompt: 'x', model: H });
      await createRejected(context, MULTIVIEW, { inputs: [{ task_id: own }], model: H }, 400, 2006);
      await createRejected(context, MULTIVIEW, { original_model_task_id: own, model: H }, 400, 2006);
      const unknown = await handle(
        context,
        post(MULTIVIEW, { original_model_task_id: '01234567-89ab-cdef-0123-456789abcdef', model: H }),
      );
      await rejected(unknown, 404, 2001);
      await createRejected(
        context,
        MULTIVIEW,
        { inputs: [{ front: a }, { back: b }], original_model_task_id: own, model: H },
        400,
        1004,
      );
    });
  });

  describe('re-texture (/models/texture)', () => {
    it('re-textures a successful task: same mesh, new surface, priced by quality', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      const source = await finish(context, await createTask(context, TEXT, { prompt: 'a crate', model: H }));
      const sourceGlb = readGlb(await downloadBytes(context, source.output.model_url));

      const created = await ok<{ task_id: string; type: string }>(
        await handle(
          context,
          post(TEXTURE, { input: source.task_id, texture_prompt: { text: 'weathered bronze' } }),
        ),
      );
      expect(created.type).toBe('texture_model');
      const done = await finish(context, created.task_id);
      expect(done).toMatchObject({ type: 'texture_model', status: 'success', credits_consumed: 10 });
      const retextured = readGlb(await downloadBytes(context, done.output.model_url));
      expect(retextured.accessors[0]?.max).toEqual(sourceGlb.accessors[0]?.max);
      expect(retextured.images).toHaveLength(1);
      const create = state.requests.find((request) => request.path === '/v3/models/texture');
      expect(create?.fields).toEqual({
        input: source.task_id,
        texture_prompt: { text: 'weathered bronze' },
      });

      const detailed = await createTask(context, TEXTURE, {
        input: source.task_id,
        model: 'v3.5-20260815',
        texture_quality: 'detailed',
        delight: true,
        pbr: true,
        texture_alignment: 'geometry',
        texture_seed: 7,
        bake: false,
        part_names: ['body'],
        compress: 'geometry',
        return_multiview: true,
      });
      expect((await finish(context, detailed)).credits_consumed).toBe(20);
      const extreme = await createTask(context, TEXTURE, {
        original_model_task_id: source.task_id,
        texture_quality: 'extreme',
      });
      expect((await finish(context, extreme)).credits_consumed).toBe(30);
      const fast = await createTask(context, TEXTURE, {
        input: source.task_id,
        model: 'v3.5-20260815',
        texture_quality: 'fast',
      });
      expect((await finish(context, fast)).credits_consumed).toBe(10);
      // A re-textured model can be re-textured again.
      await createTask(context, TEXTURE, { input: done.task_id, model: 'v2.5-20250123' });
    });

    it('re-tints an uploaded GLB from texture_prompt.image, and needs guidance for imports', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const glb = sampleGlb();
      const model = await uploadToken(context, glb);
      const blue = await uploadToken(context, await solid([0, 0, 255]));
      const done = await finish(
        context,
        await createTask(context, TEXTURE, { input: model, texture_prompt: { image: blue } }),
      );
      const result = readGlb(await downloadBytes(context, done.output.model_url));
      expect(result.accessors).toEqual(readGlb(glb).accessors);
      expect(
        result.materials[0]?.pbrMetallicRoughness.baseColorFactor.map((value) => Math.round(value * 10) / 10),
      ).toEqual([0, 0, 1, 1]);

      const missing = await createRejected(context, TEXTURE, { input: model }, 400, 1004);
      expect(missing.message).toContain('texture_prompt');
      served.set('/model.glb', { bytes: glb, type: 'model/gltf-binary' });
      await createRejected(context, TEXTURE, { input: `${origin}/model.glb` }, 400, 1004);
      await createTask(context, TEXTURE, { input: `${origin}/model.glb`, texture_prompt: { text: 'gold' } });
      const images = [blue, blue, blue, { file_token: blue }];
      await createTask(context, TEXTURE, { input: model, texture_prompt: { images } });
      // An image is not a model.
      await createRejected(context, TEXTURE, { input: blue, texture_prompt: { text: 'x' } }, 400, 2004);
    });

    it('checks the source task, the model and texture_prompt, and rejects legacy names', async () => {
      const { context } = sandbox();
      setTripoTimeline(1, 1);
      const pending = await createTask(context, TEXT, { prompt: 'pending', model: H });
      await createRejected(context, TEXTURE, { input: pending, texture_prompt: { text: 'x' } }, 400, 2007);
      const foreign = await handle(context, post(TEXTURE, { input: pending }, OTHER_KEY));
      await rejected(foreign, 404, 2001);
      await finish(context, pending);
      const text = { input: pending, texture_prompt: { text: 'x' } };
      const style = await uploadToken(context, await png(16, 16));

      await createRejected(context, TEXTURE, { texture_prompt: { text: 'x' } }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, original_model_task_id: pending }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, model: H }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, model_version: 'v3.0-20250812' }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, texture_quality: 'fast' }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, delight: true }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, part_names: 'body' }, 400, 1004);
      await createRejected(context, TEXTURE, { ...text, texture_alignment: 'mesh' }, 400, 1004);
      for (const prompt of [
        {},
        { text: 'x', image: style },
        { image: style, style_image: style },
        { images: [style, style, style] },
        { text: '' },
        { text: 'x', negative: 'y' },
        'a string',
      ]) {
        await createRejected(context, TEXTURE, { input: pending, texture_prompt: prompt }, 400, 1004);
      }
      await createTask(context, TEXTURE, {
        input: pending,
        texture_prompt: { text: 'x', style_image: style },
      });

      // The official SDKs' top-level names are not Tripo's documented wire names.
      for (const legacy of [{ text_prompt: 'bronze' }, { image_prompt: style }, { style_image: style }]) {
        const error = await createRejected(context, TEXTURE, { input: pending, ...legacy }, 400, 1004);
        expect(error.message).toContain('Unknown parameter');
      }
      expect(
        (await createRejected(context, TEXTURE, { input: pending, text_prompt: 'bronze' }, 400, 1004))
          .message,
      ).toContain('texture_prompt');
      tripoSandboxSettings.extraFields = 'accept';
      const accepted = await createTask(context, TEXTURE, { input: pending, text_prompt: 'bronze' });
      expect((await poll(context, accepted)).input).toEqual({ input: pending });
    });

    it('refuses to re-texture a failed task', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      state.addFault({ outcome: 'failed', times: 1 });
      const failed = await createTask(context, TEXT, { prompt: 'x', model: H });
      expect((await poll(context, failed)).status).toBe('failed');
      await createRejected(context, TEXTURE, { input: failed }, 400, 2007);
    });
  });

  describe('generation validation', () => {
    const text = { prompt: 'a tree', model: H };

    it('requires model on every generation endpoint and takes model_version as its alias', async () => {
      const { context } = sandbox();
      const token = await uploadToken(context, await png(16, 16));
      for (const [path, body] of [
        [TEXT, { prompt: 'x' }],
        [IMAGE, { input: token }],
        [MULTIVIEW, { inputs: [token, '', token, ''] }],
      ] as const) {
        const error = await createRejected(context, path, body, 400, 1004);
        expect(error.message).toContain('model is required');
      }
      const id = await createTask(context, TEXT, { prompt: 'x', model_version: 'v3.0-20250812' });
      expect((await poll(context, id)).input).toEqual({ prompt: 'x', model_version: 'v3.0-20250812' });
      await createRejected(context, TEXT, { ...text, model_version: H }, 400, 1004);
    });

    it('accepts the dated models, answers 2015 for deprecated ones and 1004 for the rest', async () => {
      const { context } = sandbox();
      for (const model of [H, 'v3.0-20250812', 'v2.5-20250123', P1, P2]) {
        await createTask(context, TEXT, { prompt: 'x', model });
      }
      for (const model of ['Turbo-v1.0-20250506', 'v2.0-20240919']) {
        const error = await createRejected(context, TEXT, { prompt: 'x', model }, 400, 2015);
        expect(error.message).toContain('The version has been deprecated');
      }
      for (const model of [
        'v1.4-20240625',
        'v1.3-20240522',
        'v2.5-20260210',
        'tripo-v3.1',
        'p1',
        'v3.1',
        42,
      ]) {
        await createRejected(context, TEXT, { prompt: 'x', model }, 400, 1004);
      }
    });

    it('refuses P-series fields even when false, and v3-only options on v2.5', async () => {
      const { context } = sandbox();
      for (const field of [
        { quad: false },
        { smart_low_poly: false },
        { generate_parts: false },
        { geometry_quality: 'standard' },
      ]) {
        const error = await createRejected(context, TEXT, { prompt: 'x', model: P1, ...field }, 400, 1004);
        expect(error.message).toContain('omit');
      }
      for (const field of [
        { smart_low_poly: false },
        { generate_parts: false },
        { geometry_quality: 'standard' },
      ]) {
        await createRejected(context, TEXT, { prompt: 'x', model: P2, ...field }, 400, 1004);
      }
      await createTask(context, TEXT, { prompt: 'x', model: P2, quad: false });
      const v25 = { prompt: 'x', model: 'v2.5-20250123' };
      await createRejected(context, TEXT, { ...v25, geometry_quality: 'standard' }, 400, 1004);
      await createRejected(context, TEXT, { ...v25, quad: true }, 400, 1004);
      await createRejected(context, TEXT, { ...v25, smart_low_poly: true }, 400, 1004);
      await createTask(context, TEXT, { ...v25, quad: false, texture_version: 'v2.5-20250123' });
      await createTask(context, TEXT, { ...text, model: 'v3.0-20250812', geometry_quality: 'detailed' });
    });

    it('checks face_limit per model and options', async () => {
      const { context } = sandbox();
      const cases: [Record<string, unknown>, number, boolean][] = [
        [{ model: H }, 1_500_000, true],
        [{ model: H }, 1_500_001, false],
        [{ model: H, geometry_quality: 'detailed' }, 2_000_000, true],
        [{ model: H, geometry_quality: 'detailed' }, 2_000_001, false],
        [{ model: 'v3.0-20250812' }, 1_000_000, true],
        [{ model: 'v3.0-20250812' }, 1_000_001, false],
        [{ model: 'v2.5-20250123' }, 500_000, true],
        [{ model: 'v2.5-20250123' }, 500_001, false],
        [{ model: H }, 0, false],
        [{ model: H, smart_low_poly: true }, 499, false],
        [{ model: H, smart_low_poly: true }, 20_000, true],
        [{ model: H, smart_low_poly: true }, 20_001, false],
        [{ model: H, smart_low_poly: true, quad: true }, 10_000, true],
        [{ model: H, smart_low_poly: true, quad: true }, 10_001, false],
        [{ model: P1 }, 49, false],
        [{ model: P1 }, 50, true],
        [{ model: P1 }, 20_001, false],
        [{ model: P2 }, 48, true],
        [{ model: P2 }, 50_000, true],
        [{ model: P2 }, 50_001, false],
        [{ model: P2, quad: true }, 25_000, true],
        [{ model: P2, quad: true }, 25_001, false],
      ];
      for (const [options, faceLimit, valid] of cases) {
        // A fresh sandbox per case keeps the concurrency caps out of the way.
        resetTripoSandbox();
        const body = { prompt: 'x', ...options, face_limit: faceLimit };
        if (valid) await createTask(context, TEXT, body);
        else await createRejected(context, TEXT, body, 400, 1004);
      }
      await createRejected(context, TEXT, { ...text, face_limit: 'many' }, 400, 1004);
      await createRejected(context, TEXT, { ...text, face_limit: 1.5 }, 400, 1004);
    });

    it('checks option combinations, prompts, enums and types', async () => {
      const { context } = sandbox();
      const parts = await createRejected(context, TEXT, { ...text, generate_parts: true }, 400, 1004);
      expect(parts.message).toContain('texture: false and pbr: false');
      await createRejected(context, TEXT, { ...text, generate_parts: true, texture: false }, 400, 1004);
      await createRejected(context, TEXT, { ...text, generate_parts: true, pbr: false }, 400, 1004);
      await createTask(context, TEXT, { ...text, generate_parts: true, texture: false, pbr: false });

      await createRejected(context, TEXT, { ...text, texture_quality: 'fast' }, 400, 1004);
      await createRejected(
        context,
        TEXT,
        { ...text, texture_quality: 'fast', texture_version: 'v3.0-20250812' },
        400,
        1004,
      );
      await createTask(context, TEXT, {
        ...text,
        texture_quality: 'fast',
        texture_version: 'v3.5-20260815',
        delight: true,
      });
      await createRejected(context, TEXT, { ...text, texture_version: 'v4' }, 400, 1004);

      await createRejected(context, TEXT, { model: H }, 400, 1004);
      await createRejected(context, TEXT, { model: H, prompt: '   ' }, 400, 1004);
      await createRejected(context, TEXT, { model: H, prompt: 'x'.repeat(1025) }, 400, 1004);
      await createTask(context, TEXT, { model: H, prompt: 'x'.repeat(1024) });
      await createRejected(context, TEXT, { ...text, negative_prompt: 'x'.repeat(256) }, 400, 1004);
      await createTask(context, TEXT, {
        ...text,
        negative_prompt: 'x'.repeat(255),
        image_seed: 1,
        model_seed: 2,
        texture_seed: 3,
      });

      for (const field of [
        { texture_quality: 'ultra' },
        { geometry_quality: 'ultra' },
        { compress: 'draco' },
        { export_orientation: '+z' },
        { texture: 'yes' },
        { model_seed: 1.5 },
        { auto_size: 1 },
      ]) {
        await createRejected(context, TEXT, { ...text, ...field }, 400, 1004);
      }
      await createTask(context, TEXT, {
        ...text,
        auto_size: true,
        export_uv: false,
        export_orientation: '-y',
        compress: 'geometry',
        render_video: true,
        return_multiview: true,
        priority: 1,
      });
      await createRejected(context, TEXT, { ...text, priority: 2 }, 403, 2013);
      await createRejected(context, TEXT, { ...text, priority: 4 }, 400, 1004);

      const token = await uploadToken(context, await png(16, 16));
      const image = { input: token, model: H };
      await createRejected(context, IMAGE, { ...image, texture_alignment: 'mesh' }, 400, 1004);
      await createRejected(context, IMAGE, { ...image, orientation: 'upright' }, 400, 1004);
      await createRejected(
        context,
        IMAGE,
        { ...image, enable_image_autofix: true, image_autofix: true },
        400,
        1004,
      );
      await createRejected(
        context,
        IMAGE,
        { input: token, model: P1, orientation: 'align_image', texture: false, pbr: false },
        400,
        1004,
      );
      await createTask(context, IMAGE, {
        ...image,
        orientation: 'align_image',
        texture_alignment: 'geometry',
        image_autofix: true,
        mode: 'x',
      });
      await createTask(context, IMAGE, { ...image, style_image: token });
      await createRejected(context, IMAGE, { ...image, style_image: 'file_unknown' }, 400, 1004);
      // prompt and texture_alignment are not image / text fields respectively.
      await createRejected(context, IMAGE, { ...image, prompt: 'x' }, 400, 1004);
      await createRejected(context, TEXT, { ...text, texture_alignment: 'geometry' }, 400, 1004);
    });

    it('rejects undocumented fields and style by default, ignores v2 type, and can accept extras', async () => {
      const { context, state } = sandbox();
      const body = { ...text, task_id: 'bff-task-1', provider: 'tripo' };
      const error = await createRejected(context, TEXT, body, 400, 1004);
      expect(error.message).toBe('Unknown parameter(s) for text-to-model: task_id, provider');
      const style = await createRejected(context, TEXT, { ...text, style: 'object:clay' }, 400, 1004);
      expect(style.message).toContain('style');

      const typed = await createTask(context, TEXT, { ...text, type: 'text_to_model' });
      expect((await poll(context, typed)).input).toEqual(text);

      tripoSandboxSettings.extraFields = 'accept';
      const id = await createTask(context, TEXT, { ...body, style: 'object:clay' });
      // The recorded request keeps what was sent; the task's input only what Tripo documents.
      expect(state.requests.at(-1)?.fields).toMatchObject({ task_id: 'bff-task-1', style: 'object:clay' });
      expect((await poll(context, id)).input).toEqual(text);
    });

    it('answers 1003 for bodies that are not JSON objects', async () => {
      const { context } = sandbox();
      await rejected(await handle(context, post(TEXT, '{not json')), 400, 1003);
      await rejected(await handle(context, post(TEXT, '[1, 2]')), 400, 1003);
      await rejected(await handle(context, post(TEXT, '')), 400, 1003);
      const form = new Request(`${API}${TEXT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth(KEY) },
        body: 'prompt=x&model=v3.1-20260211',
      });
      await rejected(await handle(context, form), 415, 1003);
    });
  });

  describe('routes, auth and ownership', () => {
    it('answers every v2 path and anything outside /v3 with a bare 404', async () => {
      const { context, state } = sandbox();
      state.addFault({ status: 500, times: 1 });
      for (const [method, path] of [
        ['POST', '/v2/openapi/task'],
        ['GET', '/v2/openapi/task/0196'],
        ['POST', '/v2/openapi/upload'],
        ['POST', '/v2/openapi/upload/sts'],
        ['GET', '/v2/openapi/user/balance'],
        ['GET', '/'],
        ['GET', '/v3.1/tasks/x'],
      ] as const) {
        const response = await handle(
          context,
          new Request(`${BASE_URL}${path}`, {
            method,
            headers: { 'content-type': 'application/json', ...auth(KEY) },
            ...(method === 'POST' ? { body: JSON.stringify({ type: 'text_to_model', prompt: 'x' }) } : {}),
          }),
        );
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toBe('text/html');
        expect(await response.text()).toContain('404 Not Found');
      }
      // None of them used the fault.
      await rejected(await handle(context, get('/account/balance')), 500, 1000);
      expect(state.requests.map((request) => request.path)).toContain('/v2/openapi/task');
    });

    it('has no refine or stylize endpoint, answers unknown routes 4001 and wrong methods 405', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      const draft = await createTask(context, TEXT, { prompt: 'x', model: H });
      await poll(context, draft);
      for (const path of ['/models/refine', '/models/stylize']) {
        const error = await rejected(await handle(context, post(path, { input: draft })), 404, 4001);
        expect(error.message).toContain('retired');
      }
      for (const path of ['/files/presign', '/generation/text-to-image', '/task', '/tasks', '/account']) {
        await rejected(await handle(context, post(path, {})), 404, 4001);
      }
      await rejected(await handle(context, get(TEXT)), 405, 1003);
      await rejected(await handle(context, get('/tasks/list')), 405, 1003);
      await rejected(await handle(context, post(`/tasks/${draft}`, {})), 405, 1003);
      expect(tripoCalls().map((call) => [call.endpoint, call.status])).toEqual([
        ['POST /v3/generation/text-to-model', 200],
        ['GET /v3/tasks/{task_id}', 200],
        ['POST /v3/models/refine', 404],
        ['POST /v3/models/stylize', 404],
        ['POST /v3/files/presign', 404],
        ['POST /v3/generation/text-to-image', 404],
        ['POST /v3/task', 404],
        ['POST /v3/tasks', 404],
        ['POST /v3/account', 404],
        ['GET /v3/generation/text-to-model', 405],
        ['GET /v3/tasks/list', 405],
        ['POST /v3/tasks/{task_id}', 405],
      ]);
    });

    it('answers 401 without a valid bearer key, and accepts tsk_ keys and the placeholder', async () => {
      const { context, state } = sandbox();
      state.addFault({ status: 500, times: 1 });
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'tsk_no_bearer' },
        { authorization: 'Bearer ' },
        { authorization: 'Bearer tsk_' },
        { authorization: 'Bearer sk-openai' },
        { authorization: 'Basic dHNrXzE=' },
      ];
      for (const headers of attempts) {
        const response = await handle(context, new Request(`${API}/account/balance`, { headers }));
        expect(response.status).toBe(401);
        expect(((await response.json()) as TripoErrorBody).status).toBe('error');
      }
      // Rejected keys do not use up faults.
      await rejected(await handle(context, get('/account/balance', 'tsk_sandbox')), 500, 1000);
      await balance(context, 'tsk_sandbox');
      await balance(context, 'sandbox');
      await createTask(context, TEXT, { prompt: 'x', model: H }, 'sandbox');
    });

    it('keeps tasks and credits to the key that created them', async () => {
      const { context } = sandbox();
      const id = await createTask(context, TEXT, { prompt: 'mine', model: H });
      await rejected(await handle(context, get(`/tasks/${id}`, OTHER_KEY)), 404, 2001);
      await rejected(await handle(context, get('/tasks/01234567-89ab-cdef-0123-456789abcdef')), 404, 2001);
      await rejected(await handle(context, get('/tasks/%E0%A4%A')), 404, 2001);
      expect(await balance(context, OTHER_KEY)).toEqual({ balance: 10_000, frozen: 0 });
      expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });
      expect((await poll(context, id)).status).toBe('queued');
    });
  });

  describe('task list and usage', () => {
    it('answers a map keyed by id plus the missed ids, polling each task once', async () => {
      const { context } = sandbox();
      setTripoTimeline(1, 1);
      const a = await createTask(context, TEXT, { prompt: 'a', model: H });
      const b = await createTask(context, TEXT, { prompt: 'b', model: H });
      const foreign = await createTask(context, TEXT, { prompt: 'c', model: H }, OTHER_KEY);
      const list = async (taskIds: unknown) =>
        ok<{ tasks: Record<string, TaskData>; missed: string[] }>(
          await handle(context, post('/tasks/list', { task_ids: taskIds })),
        );

      const first = await list([a, b, a, foreign, 'nope']);
      expect(Object.keys(first.tasks).sort()).toEqual([a, b].sort());
      expect(first.tasks[a]).toMatchObject({ task_id: a, status: 'queued' });
      expect(first.missed).toEqual([foreign, 'nope']);
      expect((await list([a])).tasks[a]?.status).toBe('running');
      expect((await poll(context, a)).status).toBe('success');

      for (const bad of [[], 'a', [1], Array.from({ length: 101 }, (_, i) => `id${i}`)]) {
        await rejected(await handle(context, post('/tasks/list', { task_ids: bad })), 400, 1004);
      }
      await rejected(await handle(context, post('/tasks/list', {})), 400, 1004);
      await rejected(await handle(context, post('/tasks/list', { task_ids: [a], limit: 1 })), 400, 1004);
    });

    it('lists this key\u2019s tasks in /account/usage, newest first', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      let now = Date.parse('2026-12-01T00:00:00Z');
      tripoSandboxSettings.now = () => now;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(await createTask(context, TEXT, { prompt: `n${i}`, model: H }));
        now += 1000;
      }
      await poll(context, ids[0] ?? '');
      await createTask(context, TEXT, { prompt: 'other', model: H }, OTHER_KEY);
      type Row = { task_id: string; status: string; credits_consumed: number; created_at: string };
      const rows = await ok<Row[]>(await handle(context, get('/account/usage')));
      expect(rows.map((row) => row.task_id)).toEqual([...ids].reverse());
      expect(rows[2]).toMatchObject({
        status: 'success',
        credits_consumed: 20,
        created_at: '2026-12-01T00:00:00.000Z',
      });
      expect(rows[0]).toMatchObject({ status: 'queued', credits_consumed: 0 });
      const page = await ok<Row[]>(await handle(context, get('/account/usage?limit=1&offset=1')));
      expect(page.map((row) => row.task_id)).toEqual([ids[1]]);
      await rejected(await handle(context, get('/account/usage?limit=0')), 400, 1004);
      await rejected(await handle(context, get('/account/usage?limit=201')), 400, 1004);
    });
  });

  describe('outcomes', () => {
    const cases: [string, Record<string, unknown>, number, boolean][] = [
      ['failed', { status: 'failed', error_code: 1001 }, 2, true],
      ['failed:2008', { status: 'failed', error_code: 2008 }, 2, true],
      ['failed:2018', { status: 'failed', error_code: 2018 }, 1, true],
      ['cancelled', { status: 'cancelled' }, 1, true],
      ['banned', { status: 'banned' }, 3, true],
      ['expired', { status: 'expired' }, 1, true],
      ['unknown', { status: 'unknown' }, 2, false],
      ['status:paused', { status: 'paused' }, 2, false],
      ['status:cancelled', { status: 'cancelled' }, 1, true],
      ['exploded', { status: 'failed', error_code: 1000 }, 2, true],
    ];
    for (const [outcome, expected, atPoll, terminal] of cases) {
      it(`ends the next task "${outcome}" and releases its credits`, async () => {
        const { context, state } = sandbox();
        setTripoTimeline(1, 2);
        state.addFault({ outcome, times: 1 });
        const id = await createTask(context, TEXT, { prompt: outcome, model: H });
        expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });
        const seen: TaskData[] = [];
        for (let i = 0; i <= atPoll; i++) seen.push(await poll(context, id));
        const before = seen.slice(0, atPoll).map((data) => data.status);
        expect(before.every((status) => status === 'queued' || status === 'running')).toBe(true);
        const last = seen.at(-1);
        expect(last).toMatchObject({ ...expected, output: {}, credits_consumed: 0 });
        expect(last?.completed_at !== undefined).toBe(terminal);
        const progress = seen.map((data) => data.progress);
        expect(progress).toEqual([...progress].sort((x, y) => x - y));
        expect(progress.at(-1)).toBeLessThan(100);
        if (expected.error_code !== undefined) expect(typeof last?.error_message).toBe('string');
        if (outcome === 'exploded') expect(last?.error_message).toContain('exploded');
        expect((await poll(context, id)).status).toBe(expected.status);
        expect(await balance(context)).toEqual({ balance: 10_000, frozen: 0 });
      });
    }

    it('keeps an outcome taken by a poll for the next created task', async () => {
      const { context, state } = sandbox();
      setTripoTimeline(0, 0);
      const running = await createTask(context, TEXT, { prompt: 'first', model: H });
      state.addFault({ outcome: 'cancelled', times: 1 });
      expect((await poll(context, running)).status).toBe('success');
      const next = await createTask(context, TEXT, { prompt: 'second', model: H });
      expect((await poll(context, next)).status).toBe('cancelled');
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
        const response = await handle(context, post(TEXT, { prompt: 'x', model: H }));
        await rejected(response, status, code);
        expect(response.headers.get('retry-after')).toBe(status === 429 ? '10' : null);
        // The fault is used up.
        await createTask(context, TEXT, { prompt: 'x', model: H });
      });
    }

    it('lets a four-digit outcome pick the code, on polls, uploads and balance too', async () => {
      const { context, state } = sandbox();
      const id = await createTask(context, TEXT, { prompt: 'x', model: H });
      state.addFault({ status: 429, outcome: '1007', times: 1 });
      const limited = await handle(context, get(`/tasks/${id}`));
      await rejected(limited, 429, 1007);
      expect(limited.headers.get('retry-after')).toBe('10');
      state.addFault({ status: 500, outcome: '1001', times: 2 });
      await rejected(await upload(context, await png(32, 32)), 500, 1001);
      await rejected(await handle(context, get('/account/balance')), 500, 1001);
      expect((await poll(context, id)).status).toBe('queued');
    });

    it('rejects the next valid create with 2008 when moderated', async () => {
      const { context, state } = sandbox();
      state.addFault({ moderated: true, times: 1 });
      // An invalid request does not use up the moderation.
      await createRejected(context, TEXT, { prompt: 'x' }, 400, 1004);
      const body = await createRejected(context, TEXT, { prompt: 'bad', model: H }, 400, 2008);
      expect(body.message).toContain('content policy');
      await createTask(context, TEXT, { prompt: 'fine', model: H });
      expect(await balance(context)).toEqual({ balance: 10_000 - 20, frozen: 20 });
    });

    it('hangs on a timeout fault until the client goes away', async () => {
      const state = new SandboxState();
      state.addFault({ timeout: true, times: 1 });
      const targets: (Request | AbortSignal)[] = [];
      const context: SandboxContext = {
        ...sandboxContext(state, BASE_URL),
        hang: (target) => {
          targets.push(target);
          return Promise.reject(new Error('client disconnected'));
        },
      };
      const abort = new AbortController();
      await expect(
        tripoSimulator.handle(
          post(TEXT, { prompt: 'x', model: H }, KEY, abort.signal),
          `/v3${TEXT}`,
          context,
        ),
      ).rejects.toThrow('client disconnected');
      expect(targets).toHaveLength(1);
      expect(tripoCalls().at(-1)).toMatchObject({ endpoint: 'POST /v3/generation/text-to-model', status: 0 });
      // Nothing was created.
      expect(await balance(context)).toEqual({ balance: 10_000, frozen: 0 });
    });
  });

  describe('result URLs', () => {
    it('expire five minutes after they are issued; each poll issues fresh ones', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      let now = Date.parse('2026-12-01T00:00:00Z');
      tripoSandboxSettings.now = () => now;
      const done = await finish(context, await createTask(context, TEXT, { prompt: 'clock', model: H }));
      expect(done.created_at).toBe('2026-12-01T00:00:00.000Z');
      expect(done.completed_at).toBe('2026-12-01T00:00:00.000Z');
      const url = done.output.model_url ?? '';
      expect(url).toContain(`Expires=${Math.floor(now / 1000) + 300}`);

      now += 5 * 60 * 1000;
      expect((await download(context, url)).status).toBe(200);
      now += 1000;
      const expired = await download(context, url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('AccessDenied');

      const fresh = await poll(context, done.task_id);
      expect((await download(context, fresh.output.model_url ?? '')).status).toBe(200);
      expect((await download(context, `${API}/__files/abc/model.glb`)).status).toBe(404);
      // A link only serves the file it was issued for.
      const swapped = (fresh.output.model_url ?? '').replace('model.glb', 'rendered_image.png');
      expect((await download(context, swapped)).status).toBe(404);
      const head = await handle(context, new Request(fresh.output.model_url ?? '', { method: 'HEAD' }));
      expect(head.status).toBe(200);
    });
  });

  describe('concurrency and credits', () => {
    it('allows 10 H-series tasks per key, then 429/2000 with Retry-After', async () => {
      const { context } = sandbox();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await createTask(context, TEXT, { prompt: `n${i}`, model: H }));
      const response = await handle(context, post(TEXT, { prompt: 'eleventh', model: 'v2.5-20250123' }));
      await rejected(response, 429, 2000);
      expect(response.headers.get('retry-after')).toBe('10');
      // Other keys and the P-series bucket are counted separately.
      await createTask(context, TEXT, { prompt: 'other', model: H }, OTHER_KEY);
      await createTask(context, TEXT, { prompt: 'p1', model: P1 });

      await finish(context, ids[0] ?? '');
      await createTask(context, TEXT, { prompt: 'now it fits', model: H });
    });

    it('allows 5 P-series generations and 5 re-textures per key', async () => {
      const { context } = sandbox();
      tripoSandboxSettings.initialBalance = 100_000;
      for (let i = 0; i < 5; i++)
        await createTask(context, TEXT, { prompt: `p${i}`, model: i % 2 ? P1 : P2 });
      await createRejected(context, TEXT, { prompt: 'sixth', model: P1 }, 429, 2000);

      setTripoTimeline(0, 0);
      const source = await createTask(context, TEXT, { prompt: 'source', model: H });
      await poll(context, source);
      setTripoTimeline(2, 3);
      for (let i = 0; i < 5; i++) await createTask(context, TEXTURE, { input: source });
      await createRejected(context, TEXTURE, { input: source }, 429, 2000);
      await createTask(context, TEXT, { prompt: 'h still fits', model: H });
    });

    it('stops counting unwatched tasks after 30 minutes', async () => {
      const { context } = sandbox();
      let now = Date.now();
      tripoSandboxSettings.now = () => now;
      for (let i = 0; i < 10; i++) await createTask(context, TEXT, { prompt: `n${i}`, model: H });
      await createRejected(context, TEXT, { prompt: 'full', model: H }, 429, 2000);
      now += 30 * 60 * 1000 + 1;
      await createTask(context, TEXT, { prompt: 'later', model: H });
    });

    it('freezes credits at creation, settles them on success, and refuses when short', async () => {
      const { context } = sandbox();
      setTripoTimeline(0, 0);
      tripoSandboxSettings.initialBalance = 50.5;
      expect(await balance(context)).toEqual({ balance: 50.5, frozen: 0 });
      const id = await createTask(context, IMAGE, {
        input: await uploadToken(context, await png(30, 30)),
        model: H,
      });
      expect(await balance(context)).toEqual({ balance: 20.5, frozen: 30 });
      expect((await finish(context, id)).credits_consumed).toBe(30);
      expect(await balance(context)).toEqual({ balance: 20.5, frozen: 0 });
      const error = await createRejected(
        context,
        TEXT,
        { prompt: 'x', model: H, texture_quality: 'detailed' },
        403,
        2010,
      );
      expect(error.message).toContain('30 credits');
      await createTask(context, TEXT, { prompt: 'x', model: H });
      expect(await balance(context)).toEqual({ balance: 0.5, frozen: 20 });
      expect(await balance(context, OTHER_KEY)).toEqual({ balance: 50.5, frozen: 0 });
    });
  });
});

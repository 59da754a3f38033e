import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage } from '../../infra/local/sandbox/draw.ts';
import {
  fluxSandboxSettings,
  fluxSimulator,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { type SandboxContext, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';

const BASE_URL = 'http://sandbox.test/__sandbox/flux';
const KEY = 'bfl-sandbox-key';

interface Created {
  id: string;
  polling_url: string;
  cost: number;
  input_mp: number;
  output_mp: number;
}
interface Result {
  id: string;
  status: string;
  result: {
    sample: string;
    seed: number;
    prompt: string;
    start_time: number;
    end_time: number;
    duration: number;
  } | null;
  progress: number | null;
  details: Record<string, unknown> | null;
  preview: unknown;
}
interface Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
}

function sandbox(): { state: SandboxState; context: SandboxContext } {
  const state = new SandboxState();
  return { state, context: sandboxContext(state, BASE_URL) };
}

async function handle(context: SandboxContext, request: Request): Promise<Response> {
  const path = new URL(request.url).pathname.slice(new URL(BASE_URL).pathname.length);
  return fluxSimulator.handle(request, path, context);
}

function submit(
  body: unknown,
  options: { key?: string | null; model?: 'pro' | 'max'; signal?: AbortSignal } = {},
): Request {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers['x-key'] = key;
  return new Request(`${BASE_URL}/v1/flux-kontext-${options.model ?? 'pro'}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

async function create(
  context: SandboxContext,
  body: unknown,
  options: { key?: string; model?: 'pro' | 'max' } = {},
) {
  const response = await handle(context, submit(body, options));
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as Created;
}

async function poll(context: SandboxContext, url: string, key = KEY): Promise<Result> {
  const response = await handle(context, new Request(url, { headers: { 'x-key': key } }));
  expect(response.status).toBe(200);
  return (await response.json()) as Result;
}

async function issues(response: Response): Promise<Issue[]> {
  expect(response.status).toBe(422);
  return ((await response.json()) as { detail: Issue[] }).detail;
}

const png = (width: number, height: number, seed = 'input'): Promise<Buffer> =>
  drawImage({ seed, width, height, format: 'png' });

describe('BFL Flux Kontext sandbox', () => {
  beforeAll(() => {
    fluxSandboxSettings.outputScale = 0.25;
  });
  afterAll(() => {
    fluxSandboxSettings.outputScale = 1;
    setFluxPendingPolls(2);
  });
  beforeEach(() => {
    setFluxPendingPolls(2);
  });
  afterEach(() => {
    vi.useRealTimers();
    resetFluxSandbox();
  });

  describe('task progression', () => {
    it('creates a task, reports Pending with rising progress, then Ready with a downloadable sample', async () => {
      const { context, state } = sandbox();
      const created = await create(context, { prompt: 'a cat in a hat', output_format: 'png', seed: 42 });
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.polling_url).toBe(`${BASE_URL}/v1/get_result?id=${created.id}`);
      expect(created).toMatchObject({ cost: 4, input_mp: 0 });
      expect(created.output_mp).toBeGreaterThan(0);

      const first = await poll(context, created.polling_url);
      const second = await poll(context, created.polling_url);
      expect([first.status, second.status]).toEqual(['Pending', 'Pending']);
      expect(first.progress).toBeGreaterThan(0);
      expect(second.progress ?? 0).toBeGreaterThan(first.progress ?? 0);
      expect(first.result).toBeNull();

      const ready = await poll(context, created.polling_url);
      expect(ready.status).toBe('Ready');
      expect(ready.result?.sample).toBe(`${BASE_URL}/delivery/${created.id}.png`);
      expect(ready.result).toMatchObject({ seed: 42, prompt: 'a cat in a hat' });
      expect(ready.result?.end_time).toBeGreaterThanOrEqual(
        ready.result?.start_time ?? Number.POSITIVE_INFINITY,
      );
      // Terminal statuses repeat.
      expect((await poll(context, created.polling_url)).status).toBe('Ready');

      const file = await handle(context, new Request(ready.result?.sample ?? ''));
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      const image = await decodeImage(Buffer.from(await file.arrayBuffer()));
      // ~1 MP at 1:1, a quarter of each side for the test.
      expect([image.format, image.width, image.height]).toEqual(['png', 256, 256]);
      expect(state.requests[0]?.fields).toMatchObject({ prompt: 'a cat in a hat', seed: 42 });
    });

    it('honours a configurable number of pending polls', async () => {
      const { context } = sandbox();
      setFluxPendingPolls(0);
      const now = await create(context, { prompt: 'instant' });
      expect((await poll(context, now.polling_url)).status).toBe('Ready');
      setFluxPendingPolls(1);
      const soon = await create(context, { prompt: 'soon' });
      expect((await poll(context, soon.polling_url)).status).toBe('Pending');
      expect((await poll(context, soon.polling_url)).status).toBe('Ready');
    });

    it('edits a base64 input image, keeping its proportions, as JPEG on request', async () => {
      const { context } = sandbox();
      setFluxPendingPolls(0);
      const input = await png(512, 256);
      const created = await create(context, {
        prompt: 'make it night',
        input_image: input.toString('base64'),
        output_format: 'jpeg',
      });
      expect(created.input_mp).toBe(0.13);
      const ready = await poll(context, created.polling_url);
      expect(ready.result?.sample.endsWith('.jpeg')).toBe(true);
      const file = await handle(context, new Request(ready.result?.sample ?? ''));
      expect(file.headers.get('content-type')).toBe('image/jpeg');
      const image = await decodeImage(Buffer.from(await file.arrayBuffer()));
      expect(image.format).toBe('jpeg');
      expect(image.width / image.height).toBeCloseTo(2, 1);
    });

    it('sizes the output by aspect_ratio and draws different pictures for different prompts', async () => {
      const { context } = sandbox();
      setFluxPendingPolls(0);
      const sample = async (prompt: string): Promise<Buffer> => {
        const created = await create(context, { prompt, aspect_ratio: '21:9', seed: 1 });
        const ready = await poll(context, created.polling_url);
        return Buffer.from(
          await (await handle(context, new Request(ready.result?.sample ?? ''))).arrayBuffer(),
        );
      };
      const first = await sample('a forest');
      const image = await decodeImage(first);
      expect(image.width / image.height).toBeCloseTo(21 / 9, 1);
      expect(first.equals(await sample('a desert'))).toBe(false);
    });

    it('fetches an http(s) input_image URL', async () => {
      const input = await png(256, 384);
      const server: Server = createServer((request, response) => {
        if (request.url === '/storage/input.png') {
          response.writeHead(200, { 'content-type': 'image/png' });
          response.end(input);
        } else {
          response.writeHead(404);
          response.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const { context } = sandbox();
        const created = await create(context, {
          prompt: 'x',
          input_image: `http://127.0.0.1:${port}/storage/input.png`,
        });
        expect(created.input_mp).toBe(0.1);
        const missing = await issues(
          await handle(
            context,
            submit({ prompt: 'x', input_image: `http://127.0.0.1:${port}/storage/gone.png` }),
          ),
        );
        expect(missing[0]).toMatchObject({ type: 'value_error', loc: ['body', 'input_image'] });
        expect(missing[0]?.msg).toMatch(/HTTP 404/);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('reports unknown ids, other keys and a missing id', async () => {
      const { context } = sandbox();
      const unknown = await poll(context, `${BASE_URL}/v1/get_result?id=nope`);
      expect(unknown).toMatchObject({ id: 'nope', status: 'Task not found', result: null });
      const created = await create(context, { prompt: 'x' });
      expect((await poll(context, created.polling_url, 'another-key')).status).toBe('Task not found');
      const noId = await issues(
        await handle(context, new Request(`${BASE_URL}/v1/get_result`, { headers: { 'x-key': KEY } })),
      );
      expect(noId).toEqual([{ type: 'missing', loc: ['query', 'id'], msg: 'Field required', input: null }]);
    });

    it('expires the delivery URL ten minutes after the task became Ready', async () => {
      const { context } = sandbox();
      setFluxPendingPolls(0);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
      const created = await create(context, { prompt: 'x' });
      const ready = await poll(context, created.polling_url);
      vi.setSystemTime(new Date('2030-01-01T00:09:00Z'));
      expect((await handle(context, new Request(ready.result?.sample ?? ''))).status).toBe(200);
      vi.setSystemTime(new Date('2030-01-01T00:11:00Z'));
      expect((await handle(context, new Request(ready.result?.sample ?? ''))).status).toBe(403);
    });
  });

  describe('validation', () => {
    it('answers FastAPI 422 details for bad fields', async () => {
      const { context } = sandbox();
      const detail = await issues(
        await handle(
          context,
          submit({
            output_format: 'webp',
            safety_tolerance: 7,
            seed: 1.5,
            aspect_ratio: '3:1',
            input_image: 'definitely not base64!',
            prompt_upsampling: 'maybe',
          }),
        ),
      );
      const byField = Object.fromEntries(detail.map((issue) => [String(issue.loc[1]), issue.type]));
      expect(byField).toEqual({
        prompt: 'missing',
        output_format: 'enum',
        safety_tolerance: 'less_than_equal',
        seed: 'int_from_float',
        aspect_ratio: 'value_error',
        input_image: 'value_error',
        prompt_upsampling: 'bool_type',
      });
      for (const issue of detail) expect(issue.loc[0]).toBe('body');
    });

    it('accepts aspect ratios from 21:9 to 9:21 and nothing wider', async () => {
      const { context } = sandbox();
      await create(context, { prompt: 'x', aspect_ratio: '9:21' });
      await create(context, { prompt: 'x', aspect_ratio: '16:9' });
      const wide = await issues(await handle(context, submit({ prompt: 'x', aspect_ratio: '22:9' })));
      expect(wide[0]?.msg).toBe('Value error, Aspect ratio must be between 21:9 and 9:21');
    });

    it('rejects bodies that are not JSON objects', async () => {
      const { context } = sandbox();
      expect((await issues(await handle(context, submit('{oops'))))[0]?.type).toBe('json_invalid');
      expect((await issues(await handle(context, submit('[1, 2]'))))[0]?.type).toBe('model_attributes_type');
    });

    it('requires x-key', async () => {
      const { context } = sandbox();
      const response = await handle(context, submit({ prompt: 'x' }, { key: null }));
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ detail: 'Not authenticated' });
    });

    it('answers 404 for unknown paths and 405 for wrong methods', async () => {
      const { context } = sandbox();
      const unknown = await handle(context, new Request(`${BASE_URL}/v1/flux-pro-9`, { method: 'POST' }));
      expect(unknown.status).toBe(404);
      const wrong = await handle(
        context,
        new Request(`${BASE_URL}/v1/flux-kontext-pro`, { headers: { 'x-key': KEY } }),
      );
      expect(wrong.status).toBe(405);
    });
  });

  describe('concurrency', () => {
    it('answers 429 above 24 unfinished tasks per key, and 6 for kontext-max', async () => {
      const { context } = sandbox();
      const tasks: Created[] = [];
      for (let i = 0; i < 24; i++) tasks.push(await create(context, { prompt: `task ${i}` }));
      const over = await handle(context, submit({ prompt: 'one too many' }));
      expect(over.status).toBe(429);
      expect(((await over.json()) as { detail: string }).detail).toMatch(/active tasks/);
      // Another key has its own budget.
      await create(context, { prompt: 'x' }, { key: 'other-key' });
      // A finished task frees a slot.
      setFluxPendingPolls(0);
      const first = tasks[0];
      if (!first) throw new Error('no task');
      for (let i = 0; i < 3; i++) await poll(context, first.polling_url);
      await create(context, { prompt: 'fits again' });

      resetFluxSandbox();
      for (let i = 0; i < 6; i++) await create(context, { prompt: `max ${i}` }, { model: 'max' });
      expect((await handle(context, submit({ prompt: 'x' }, { model: 'max' }))).status).toBe(429);
      await create(context, { prompt: 'pro still fits' });
    });
  });

  describe('faults', () => {
    it.each([
      ['Error', 2],
      ['Content Moderated', 2],
      ['Request Moderated', 0],
      ['Task not found', 0],
    ])('ends the next task with outcome %s after %i pending polls', async (outcome, pending) => {
      const { context, state } = sandbox();
      state.addFault({ outcome, times: 1 });
      const created = await create(context, { prompt: 'x' });
      for (let i = 0; i < pending; i++)
        expect((await poll(context, created.polling_url)).status).toBe('Pending');
      const end = await poll(context, created.polling_url);
      expect(end.status).toBe(outcome);
      expect(end.result).toBeNull();
      if (outcome === 'Error') expect(end.details).toMatchObject({ message: expect.any(String) });
      // The next task is unaffected.
      const next = await create(context, { prompt: 'y' });
      for (let i = 0; i < 3; i++) await poll(context, next.polling_url);
      expect((await poll(context, next.polling_url)).status).toBe('Ready');
    });

    it('treats moderated: true as Content Moderated', async () => {
      const { context, state } = sandbox();
      setFluxPendingPolls(0);
      state.addFault({ moderated: true, times: 1 });
      const created = await create(context, { prompt: 'x' });
      expect((await poll(context, created.polling_url)).status).toBe('Content Moderated');
    });

    it('keeps an outcome taken by a poll for the next created task', async () => {
      const { context, state } = sandbox();
      const running = await create(context, { prompt: 'running' });
      state.addFault({ outcome: 'Error', times: 1 });
      expect((await poll(context, running.polling_url)).status).toBe('Pending');
      setFluxPendingPolls(0);
      const next = await create(context, { prompt: 'next' });
      expect((await poll(context, next.polling_url)).status).toBe('Error');
      await poll(context, running.polling_url);
      expect((await poll(context, running.polling_url)).status).toBe('Ready');
    });

    it.each([
      [402, /credits/i],
      [429, /active tasks/],
      [500, /Internal Server Error/],
      [503, /overloaded/],
    ])('answers a scripted %i on create with a detail text', async (status, text) => {
      const { context, state } = sandbox();
      state.addFault({ status, times: 1 });
      const response = await handle(context, submit({ prompt: 'x' }));
      expect(response.status).toBe(status);
      expect(((await response.json()) as { detail: string }).detail).toMatch(text);
      await create(context, { prompt: 'x' });
    });

    it('answers a scripted status on a poll, then resumes the task', async () => {
      const { context, state } = sandbox();
      setFluxPendingPolls(0);
      const created = await create(context, { prompt: 'x' });
      state.addFault({ status: 503, times: 1 });
      const failed = await handle(context, new Request(created.polling_url, { headers: { 'x-key': KEY } }));
      expect(failed.status).toBe(503);
      expect((await poll(context, created.polling_url)).status).toBe('Ready');
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
      const request = submit({ prompt: 'x' }, { signal: controller.signal });
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

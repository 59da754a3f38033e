import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeImage } from '../../functions/core/images/codecs.ts';
import { retryTiming } from '../../functions/core/transient-retry.ts';
import {
  fluxSandboxSettings,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { recraftSandboxSettings, resetRecraftSandbox } from '../../infra/local/sandbox/recraft.ts';
import {
  resetTripoSandbox,
  setTripoTimeline,
  tripoSandboxSettings,
} from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * A result the provider has made (and charged for) is never lost to a hiccup and never paid for
 * twice: over HTTP against the local stack (the real ASL in the local runner, the simulators over
 * HTTP, the local Supabase Storage), with failures injected at the network edge — the simulators'
 * result-file faults (`outcome: "result:…"`) and the local Storage's `/__storage/faults`. Each case
 * counts the provider's paid calls from the simulator's own request log.
 *
 * Waits between attempts are 0 here (as the runner's retry intervals are); a stall is declared
 * after 500 ms without a byte, and a scripted stall never ends, so its outcome does not depend on
 * the machine's speed.
 */

interface SandboxRequest {
  method: string;
  path: string;
}

interface StorageRequest {
  method: string;
  operation: 'upload' | 'download';
  path: string;
  status: number;
}

let stack: TestStack;
let inputUrl: string;
const INPUT_PATH = 'uploads/paid-results/input.png';
const timingBefore = { ...retryTiming };
const recraftScaleBefore = recraftSandboxSettings.outputScale;
const fluxScaleBefore = fluxSandboxSettings.outputScale;
const fluxPollsBefore = fluxSandboxSettings.pendingPolls;
let counter = 0;

beforeAll(async () => {
  retryTiming.waitScale = 0;
  retryTiming.stallMs = 500;
  // Small pictures: the same code paths, less work.
  recraftSandboxSettings.outputScale = 0.25;
  fluxSandboxSettings.outputScale = 0.25;
  setFluxPendingPolls(1);
  stack = await startTestStack();
  inputUrl = await stack.upload(INPUT_PATH, await samplePng(256, 256), 'image/png');
});

afterAll(async () => {
  Object.assign(retryTiming, timingBefore);
  recraftSandboxSettings.outputScale = recraftScaleBefore;
  fluxSandboxSettings.outputScale = fluxScaleBefore;
  setFluxPendingPolls(fluxPollsBefore);
  resetRecraftSandbox();
  resetFluxSandbox();
  resetTripoSandbox();
  await stack.stop();
});

beforeEach(async () => {
  for (const path of [
    '/__sandbox/recraft/faults',
    '/__sandbox/flux/faults',
    '/__sandbox/tripo/faults',
    '/__storage/faults',
  ]) {
    const response = await fetch(`${stack.url}${path}`, { method: 'DELETE' });
    expect(response.status).toBe(200);
  }
  resetFluxSandbox();
  resetTripoSandbox();
  // Short Tripo timelines and small previews: the same code paths, less work.
  setTripoTimeline(1, 1);
  tripoSandboxSettings.renderSize = 64;
});

async function storageFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.url}/__storage/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

async function storageRequests(): Promise<StorageRequest[]> {
  return (await (await fetch(`${stack.url}/__storage/requests`)).json()) as StorageRequest[];
}

async function sandboxRequests(provider: string): Promise<SandboxRequest[]> {
  return (await stack.sandboxRequests(provider)) as unknown as SandboxRequest[];
}

const PAID_PREFIX = { recraft: '/v1/images/', flux: '/v1/flux-kontext-', tripo: '/v3/generation/' };

/** The provider's paid calls: Recraft's generation POSTs, BFL's and Tripo's creates. */
async function paidCalls(provider: keyof typeof PAID_PREFIX): Promise<SandboxRequest[]> {
  const prefix = PAID_PREFIX[provider];
  return (await sandboxRequests(provider)).filter(
    (request) => request.method === 'POST' && request.path.startsWith(prefix),
  );
}

/** Submits over HTTP and waits for the task to finish; returns its status body. */
async function run(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  counter += 1;
  const response = await stack.call(`/generation/${operation}`, {
    body: { task_id: `paid-${counter}`, ...body },
  });
  expect(response.status).toBe(202);
  const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
  return stack.waitForTask(jobId);
}

/** Every result URL of a complete task, downloaded and decoded. */
async function results(done: Record<string, unknown>) {
  const urls = (done.asset_urls as string[] | undefined) ?? [String(done.asset_url)];
  return Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      return decodeImage(new Uint8Array(await response.arrayBuffer()));
    }),
  );
}

const recraftImage = (extra: Record<string, unknown> = {}) => ({
  provider: 'recraft',
  prompt: 'a lighthouse at dawn',
  model: 'recraftv3',
  ...extra,
});

const fluxImage = () => ({
  provider: 'flux',
  prompt: 'the same scene at night',
  input_image_asset_url: inputUrl,
  output_format: 'png',
});

describe('provider result downloads', () => {
  it('Recraft: a result answering 503 twice is downloaded on the third attempt; one paid call', async () => {
    await stack.fault('recraft', { outcome: 'result:503x2' });
    const done = await run('text-to-image', recraftImage());
    expect(done).toMatchObject({ status: 'complete', error: null });
    expect(await results(done)).toHaveLength(1);
    expect(await paidCalls('recraft')).toHaveLength(1);
    const downloads = (await sandboxRequests('recraft')).filter((request) =>
      request.path.startsWith('/files/'),
    );
    expect(downloads).toHaveLength(3);
  });

  it('Recraft: a 429 with Retry-After is retried too', async () => {
    await stack.fault('recraft', { outcome: 'result:429x1' });
    const done = await run('text-to-image', recraftImage());
    expect(done.status).toBe('complete');
    expect(await paidCalls('recraft')).toHaveLength(1);
  });

  it('Recraft n=3: image 1 failing twice is retried on its own, and all three images are stored', async () => {
    await stack.fault('recraft', { outcome: 'result:503x2@1' });
    const done = await run('text-to-image', recraftImage({ n: 3 }));
    expect(done).toMatchObject({ status: 'complete', error: null });
    const images = await results(done);
    expect(images.map((image) => [image.width, image.height])).toEqual([
      [256, 256],
      [256, 256],
      [256, 256],
    ]);
    expect(await paidCalls('recraft')).toHaveLength(1);
    const downloads = (await sandboxRequests('recraft')).filter((request) =>
      request.path.startsWith('/files/'),
    );
    const perFile = new Map<string, number>();
    for (const { path } of downloads) perFile.set(path, (perFile.get(path) ?? 0) + 1);
    expect([...perFile.values()].sort()).toEqual([1, 1, 3]);
  });

  it('Recraft: a result that stays unavailable fails the task without a second paid call', async () => {
    await stack.fault('recraft', { outcome: 'result:503x50' });
    const done = await run('text-to-image', recraftImage());
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(done.error).toMatch(
      /^Recraft result could not be downloaded after 4 attempts \(HTTP 503.*\); Recraft was not called again, so the result was not paid for twice; submitting the task again may help$/,
    );
    expect(await paidCalls('recraft')).toHaveLength(1);
  });

  it('Recraft: a redirect on the provider’s own origin is followed', async () => {
    await stack.fault('recraft', { outcome: 'result:redirect' });
    const done = await run('text-to-image', recraftImage());
    expect(done.status).toBe('complete');
    const downloads = (await sandboxRequests('recraft')).filter((request) =>
      request.path.startsWith('/files/'),
    );
    expect(downloads).toHaveLength(2);
  });

  it('Recraft: a redirect to plain http elsewhere is refused, and not retried', async () => {
    await stack.fault('recraft', { outcome: 'result:redirect-http' });
    const done = await run('text-to-image', recraftImage());
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(done.error).toBe(
      'Recraft result download redirected to a URL that is not https (http://results.example.invalid); it was not fetched',
    );
    expect(await paidCalls('recraft')).toHaveLength(1);
  });

  it('Flux: a sample answering 503 twice is downloaded in the same poll; one paid create', async () => {
    await stack.fault('flux', { outcome: 'result:503x2' });
    const done = await run('image-to-image', fluxImage());
    expect(done).toMatchObject({ status: 'complete', error: null });
    expect(await paidCalls('flux')).toHaveLength(1);
    const downloads = (await sandboxRequests('flux')).filter((request) =>
      request.path.startsWith('/delivery/'),
    );
    expect(downloads).toHaveLength(3);
  });

  it('Tripo: a model answering 503 twice is downloaded in the same poll; one paid create', async () => {
    await stack.fault('tripo', { outcome: 'result:503x2' });
    const done = await run('text-to-model', { provider: 'tripo', prompt: 'a small boat' });
    expect(done).toMatchObject({ status: 'complete', error: null });
    const model = await fetch(String(done.asset_url));
    expect(Buffer.from(await model.arrayBuffer()).toString('ascii', 0, 4)).toBe('glTF');
    expect(await paidCalls('tripo')).toHaveLength(1);
    const downloads = (await sandboxRequests('tripo')).filter((request) =>
      request.path.startsWith('/v3/__files/'),
    );
    expect(downloads).toHaveLength(3);
  });

  it('Flux: a sample download that stalls is abandoned and made again', async () => {
    await stack.fault('flux', { outcome: 'result:stall' });
    const done = await run('image-to-image', fluxImage());
    expect(done).toMatchObject({ status: 'complete', error: null });
    expect(await paidCalls('flux')).toHaveLength(1);
  });
});

describe('result uploads to Supabase Storage', () => {
  it('an upload answering 503 twice is retried in place; the provider is called once', async () => {
    await storageFault({ operation: 'upload', status: 503, times: 2 });
    const done = await run('text-to-image', recraftImage());
    expect(done).toMatchObject({ status: 'complete', error: null });
    expect(await results(done)).toHaveLength(1);
    expect(await paidCalls('recraft')).toHaveLength(1);
    const uploads = (await storageRequests()).filter((request) => request.operation === 'upload');
    expect(uploads.map((request) => request.status)).toEqual([503, 503, 200]);
  });

  it('n=3 with uploads failing: each image is retried on its own and none is uploaded twice', async () => {
    await storageFault({ operation: 'upload', status: 503, times: 2 });
    const done = await run('text-to-image', recraftImage({ n: 3 }));
    expect(done.status).toBe('complete');
    expect(await results(done)).toHaveLength(3);
    const uploads = (await storageRequests()).filter((request) => request.operation === 'upload');
    const stored = uploads.filter((request) => request.status === 200).map((request) => request.path);
    expect(stored).toHaveLength(3);
    expect(new Set(stored).size).toBe(3);
    expect(uploads).toHaveLength(5);
    expect(await paidCalls('recraft')).toHaveLength(1);
  });

  it('an upload failing beyond its attempts fails the task clearly, with exactly one paid call', async () => {
    await storageFault({ operation: 'upload', status: 503, times: 1000 });
    const done = await run('text-to-image', recraftImage());
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_unavailable', asset_url: null });
    expect(done.error).toBe(
      'Could not store result 1 (image/webp) after 6 attempts: Supabase Storage answered HTTP 503 (Sandbox fault: HTTP 503); the provider was not called again, so the result was not paid for twice; submitting the task again may help',
    );
    expect(await paidCalls('recraft')).toHaveLength(1);
    const uploads = (await storageRequests()).filter((request) => request.operation === 'upload');
    expect(uploads).toHaveLength(6);
  });

  it('async (Flux): uploads failing beyond the step re-poll (free) and never create again', async () => {
    await storageFault({ operation: 'upload', status: 503, times: 1000 });
    const done = await run('image-to-image', fluxImage());
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(done.error).toBe(
      'Could not store result 1 (image/png) after 6 attempts: Supabase Storage answered HTTP 503 (Sandbox fault: HTTP 503); retrying may help',
    );
    expect(await paidCalls('flux')).toHaveLength(1);
    // PollProviderJob ran once and was retried by the state machine (4 more), 6 uploads each.
    const uploads = (await storageRequests()).filter((request) => request.operation === 'upload');
    expect(uploads).toHaveLength(30);
  });
});

describe('input downloads from Supabase Storage', () => {
  it('a stalled input download is abandoned and made again; the task completes', async () => {
    await storageFault({ operation: 'download', stall: true, path: INPUT_PATH });
    const done = await run(
      'image-to-image',
      recraftImage({ input_image_asset_url: inputUrl, strength: 0.5 }),
    );
    expect(done).toMatchObject({ status: 'complete', error: null });
    const downloads = (await storageRequests()).filter(
      (request) => request.operation === 'download' && request.path === INPUT_PATH,
    );
    expect(downloads[0]?.status).toBe(0);
    expect(downloads.at(-1)?.status).toBe(200);
    expect(await paidCalls('recraft')).toHaveLength(1);
  });

  it('an input download that stalls on every attempt fails as provider_unavailable, not internal', async () => {
    await storageFault({ operation: 'download', stall: true, path: INPUT_PATH, times: 1000 });
    const done = await run(
      'image-to-image',
      recraftImage({ input_image_asset_url: inputUrl, strength: 0.5 }),
    );
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(done.error).toBe(
      'Could not download input_image_asset_url from storage after 3 attempts (stalled: no data for 0.5 s); retrying may help',
    );
    // Nothing was sent to the provider: the inputs come first.
    expect(await paidCalls('recraft')).toHaveLength(0);
  });
});

/** A request with its path sent exactly as given (fetch would resolve dot segments first). */
function rawRequest(method: string, path: string, body?: Buffer): Promise<{ status: number; body: unknown }> {
  const { port } = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { authorization: 'Bearer local-service-key', 'content-type': 'image/png' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: an object's bytes.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describe('the local Storage routes', () => {
  const BUCKET = 'makeit3d-app-assets';
  const refused = {
    statusCode: '400',
    error: 'invalid_key',
    message: 'Object paths may not contain "." or ".." segments',
  };

  it('serve the object at its own path', async () => {
    const answer = await rawRequest('GET', `/storage/v1/object/public/${BUCKET}/${INPUT_PATH}`);
    expect(answer.status).toBe(200);
  });

  it.each([
    'uploads/x/../paid-results/input.png',
    'uploads/paid-results/./input.png',
    'uploads/x/%2e%2e/paid-results/input.png',
    'uploads/x/%2E%2E/paid-results/input.png',
    'uploads/x/.%2e/paid-results/input.png',
    'uploads/paid-results/%2E/input.png',
    'uploads/x/..%2Fpaid-results/input.png',
  ])('refuse a download whose raw path holds a dot segment: %s', async (path) => {
    const answer = await rawRequest('GET', `/storage/v1/object/public/${BUCKET}/${path}`);
    expect(answer).toEqual({ status: 400, body: refused });
  });

  it('refuse an upload whose raw path holds a dot segment, and write nothing', async () => {
    const answer = await rawRequest(
      'POST',
      `/storage/v1/object/${BUCKET}/tenant/../other/0.png`,
      Buffer.from('not stored'),
    );
    expect(answer).toEqual({ status: 400, body: refused });
    expect((await rawRequest('GET', `/storage/v1/object/public/${BUCKET}/other/0.png`)).status).toBe(404);
  });

  it.each([
    [{ operation: 'upload', stall: true }, 'stall applies to downloads only'],
    [{ operation: 'delete', status: 503 }, 'operation must be "upload" or "download"'],
    [{ operation: 'upload' }, 'Give status or stall'],
    [{ operation: 'upload', status: 200 }, 'status must be an HTTP error status between 400 and 599'],
    [
      { operation: 'upload', status: 503, when: 'now' },
      'Unknown field when; allowed: operation, status, stall, path, times',
    ],
  ])('refuse the fault %j, saying why', async (fault, detail) => {
    const response = await fetch(`${stack.url}/__storage/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../infra/local/local-stack.ts';

export const TEST_KEY = 'makeit3d_test_sk_dev_001';

export interface TestStack extends LocalStack {
  /** fetch against the stack with the test key (or `apiKey`) and JSON. */
  call(
    path: string,
    init?: { method?: string; body?: unknown; apiKey?: string | null; headers?: Record<string, string> },
  ): Promise<Response>;
  /** Uploads bytes through the local Supabase Storage route; returns the public URL. */
  upload(path: string, bytes: Buffer, contentType: string): Promise<string>;
  /** Polls the status route until the task is complete or failed. */
  waitForTask(jobId: string, apiKey?: string): Promise<Record<string, unknown>>;
  fault(provider: string, fault: Record<string, unknown>): Promise<void>;
  sandboxRequests(provider: string): Promise<{ path: string; fields: Record<string, unknown> }[]>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A local stack on a free port with its own data folder, Waits and retry intervals at 0, and the
 * stuck-task reconciler run only by `reconcileNow()`.
 */
export async function startTestStack(
  options: LocalStackOptions & { dataDir?: string } = {},
): Promise<TestStack> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'makeit3d-test-'));
  const environmentBefore = { ...process.env };
  const stack = await startLocalStack({
    port: 0,
    waitMs: 0,
    retryIntervalMs: 0,
    // No scheduled reconciler runs: a test that wants one calls reconcileNow().
    reconcileIntervalMs: 0,
    ...options,
    dataDir,
    env: { PROVIDER_TIMEOUT_SECONDS: '30', LOG_LEVEL: 'silent', ...options.env },
  });
  const bucket = process.env.SUPABASE_BUCKET ?? 'makeit3d-app-assets';
  const testStack: TestStack = {
    ...stack,
    async call(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.apiKey !== null) headers['x-api-key'] = init.apiKey ?? TEST_KEY;
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      return fetch(`${stack.url}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
    },
    async upload(path, bytes, contentType) {
      const response = await fetch(`${stack.url}/storage/v1/object/${bucket}/${path}`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer local-service-key',
          'content-type': contentType,
          'x-upsert': 'true',
        },
        body: new Uint8Array(bytes),
      });
      if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
      return `${stack.url}/storage/v1/object/public/${bucket}/${path}`;
    },
    async waitForTask(jobId, apiKey = TEST_KEY) {
      // Up to two minutes: generous, so a loaded CI machine slows a test down instead of failing it.
      for (let attempt = 0; attempt < 2400; attempt++) {
        const response = await fetch(`${stack.url}/tasks/${jobId}/status`, {
          headers: { 'x-api-key': apiKey },
        });
        const body = (await response.json()) as Record<string, unknown>;
        if (body.status === 'complete' || body.status === 'failed') return body;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`task ${jobId} did not finish`);
    },
    async fault(provider, fault) {
      const response = await fetch(`${stack.url}/__sandbox/${provider}/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fault),
      });
      if (response.status !== 201) throw new Error(`fault not set: ${await response.text()}`);
    },
    async sandboxRequests(provider) {
      const response = await fetch(`${stack.url}/__sandbox/${provider}/requests`);
      return (await response.json()) as { path: string; fields: Record<string, unknown> }[];
    },
    async stop(stopOptions = {}) {
      await stack.close();
      // The next stack of this test file starts from the environment this one found.
      for (const key of Object.keys(process.env)) if (!(key in environmentBefore)) delete process.env[key];
      Object.assign(process.env, environmentBefore);
      if (!stopOptions.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return testStack;
}

/** A real PNG photo-like image (gradient and noise), for uploads. */
export async function samplePng(width = 256, height = 256, seed = 1): Promise<Buffer> {
  const image = new Jimp({ width, height, color: 0xffffffff });
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const data = image.bitmap.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = random() * 255;
      data[i + 3] = 255;
    }
  }
  return image.getBuffer('image/png');
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestStack } from '../support/local-stack.ts';

/**
 * The local host opens its port before everything behind it is ready (the port is part of the
 * handlers' environment). Until then it answers every route with a 503 to retry, never silence.
 */

const STARTING = { detail: 'The local stack is starting; retry shortly' };

/** One request of each kind the host serves: API, status, storage, REST, Step Functions, simulators. */
const ROUTES: { path: string; init?: RequestInit }[] = [
  { path: '/health' },
  { path: '/tasks/some-job/status', init: { headers: { 'x-api-key': 'makeit3d_test_sk_dev_001' } } },
  {
    path: '/generation/text-to-image',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'makeit3d_test_sk_dev_001' },
      body: JSON.stringify({ task_id: 'early', provider: 'openai', prompt: 'a cube' }),
    },
  },
  { path: '/storage/v1/object/public/makeit3d-app-assets/anything.png' },
  { path: '/rest/v1/concept_images?job_id=eq.x' },
  {
    path: '/__aws/stepfunctions',
    init: {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSStepFunctions.DescribeExecution' },
      body: '{}',
    },
  },
  { path: '/__sandbox/openai/requests' },
];

describe('local host startup', () => {
  it('answers 503 with Retry-After and a JSON detail on every route until ready, then serves', async () => {
    const early: {
      path: string;
      status: number;
      retryAfter: string | null;
      type: string | null;
      body: unknown;
    }[] = [];
    const stack = await startTestStack({
      beforeReady: async (url) => {
        for (const { path, init } of ROUTES) {
          const response = await fetch(`${url}${path}`, init);
          early.push({
            path,
            status: response.status,
            retryAfter: response.headers.get('retry-after'),
            type: response.headers.get('content-type'),
            body: await response.json(),
          });
        }
      },
    });
    try {
      expect(early).toEqual(
        ROUTES.map(({ path }) => ({
          path,
          status: 503,
          retryAfter: '1',
          type: 'application/json',
          body: STARTING,
        })),
      );
      const health = await fetch(`${stack.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'healthy' });
      const requests = await fetch(`${stack.url}/__sandbox/openai/requests`);
      expect(requests.status).toBe(200);
    } finally {
      await stack.stop();
    }
  });

  it('closes what it opened when a startup step fails: no port, DynamoDB thread or worker is left', async () => {
    const environmentBefore = { ...process.env };
    let url = '';
    let dynamoEndpoint = '';
    try {
      await expect(
        startTestStack({
          beforeReady: async (ready) => {
            url = ready;
            dynamoEndpoint = process.env.DYNAMODB_ENDPOINT ?? '';
            // Both answer while the start is under way.
            expect((await fetch(`${ready}/health`)).status).toBe(503);
            expect((await fetch(dynamoEndpoint, { method: 'POST' })).status).toBeGreaterThan(0);
            throw new Error('a startup step failed');
          },
        }),
      ).rejects.toThrow('a startup step failed');
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in environmentBefore)) delete process.env[key];
      Object.assign(process.env, environmentBefore);
    }
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await expect(fetch(dynamoEndpoint, { method: 'POST' })).rejects.toThrow();
  });
});

const MAIN = fileURLToPath(new URL('../../infra/local/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** `npm start` in a child process, with its own data folder and a free port. */
function npmStart(dataDir: string): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', TSX, MAIN], {
    // Not the repository: a developer's .env must not change what this test sees.
    cwd: dataDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function outputContains(run: ReturnType<typeof npmStart>, needle: string): Promise<void> {
  while (!run.output().includes(needle)) {
    const ended = await Promise.race([
      run.exited.then(() => true),
      new Promise((r) => setTimeout(r, 20, false)),
    ]);
    if (ended && !run.output().includes(needle)) throw new Error(`npm start ended early:\n${run.output()}`);
  }
}

describe('npm start', () => {
  it('exits cleanly (code 0, no error) on Ctrl-C while it is still starting', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-start-'));
    const run = npmStart(dataDir);
    try {
      // Printed once the signal handlers are in place and before the stack is loaded.
      await outputContains(run, 'Starting the local stack');
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.output()).not.toMatch(/error/i);
    } finally {
      run.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('prints its banner only when it serves requests, and exits cleanly on Ctrl-C', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-start-'));
    const run = npmStart(dataDir);
    try {
      await outputContains(run, 'Real providers');
      const url = /API\s+(http:\/\/\S+)/.exec(run.output())?.[1];
      expect(url).toBeDefined();
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

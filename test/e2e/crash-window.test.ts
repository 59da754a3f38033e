import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readBody, sendWebResponse, toWebRequest } from '../../infra/local/http-utils.ts';
import { SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';
import {
  resetTripoSandbox,
  setTripoTimeline,
  tripoCalls,
  tripoSimulator,
} from '../../infra/local/sandbox/tripo.ts';
import { TEST_KEY } from '../support/local-stack.ts';

/**
 * A crash of the whole local stack (`kill -9` of `npm start`) in the window between a paid Tripo
 * create and the recording of its task id. Tripo has no idempotency key, so a rerun that sent the
 * create again could bill twice: the rerun must find the note written before the create and fail
 * the task instead. The stack runs as a child process against the Tripo simulator served by this
 * test, which kills the child at the exact moment: after Tripo made the task, before the answer
 * reaches the BFF.
 */

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TRIPO_KEY = 'tsk_crash_window_test';

let tripo: Server;
let tripoUrl = '';
/** What the simulator does with the next request that matches, instead of answering it. */
let killOn: ((method: string, path: string) => boolean) | undefined;
let child: ChildProcess | undefined;
let dataDir = '';

beforeAll(async () => {
  const state = new SandboxState();
  tripo = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const body = await readBody(request, 100 * 1024 * 1024);
      const abort = new AbortController();
      response.on('close', () => abort.abort());
      const webRequest = toWebRequest(request, body, tripoUrl, abort.signal);
      const path = new URL(request.url ?? '/', tripoUrl).pathname;
      const answer = await tripoSimulator.handle(webRequest, path, sandboxContext(state, tripoUrl));
      const trigger = killOn;
      if (trigger?.(request.method ?? 'GET', path)) {
        // Tripo has done the work; the BFF dies before it hears about it.
        killOn = undefined;
        child?.kill('SIGKILL');
        response.destroy();
        return;
      }
      await sendWebResponse(response, answer);
    })().catch(() => response.destroy());
  });
  await new Promise<void>((done) => tripo.listen(0, '127.0.0.1', done));
  tripoUrl = `http://127.0.0.1:${(tripo.address() as AddressInfo).port}`;
});

afterAll(async () => {
  tripo.closeAllConnections();
  await new Promise<void>((done) => tripo.close(() => done()));
});

beforeEach(() => {
  resetTripoSandbox();
  setTripoTimeline(0, 1);
  dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-crash-'));
});

afterEach(async () => {
  await stopChild();
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npm start` as a child process on a free port; resolves with its URL once it serves. */
async function startChild(): Promise<string> {
  const started = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      TRIPO_API_KEY: TRIPO_KEY,
      TRIPO_BASE_URL: `${tripoUrl}/v3`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  let output = '';
  return new Promise<string>((resolveUrl, reject) => {
    started.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /API\s+(http:\/\/localhost:\d+)/.exec(output);
      if (match?.[1]) resolveUrl(match[1]);
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    started.once('exit', (code) =>
      reject(new Error(`the local stack exited (${code}) before serving:\n${output}`)),
    );
  });
}

async function stopChild(): Promise<void> {
  const running = child;
  child = undefined;
  if (!running || running.exitCode !== null || running.signalCode !== null) return;
  const exited = new Promise((done) => running.once('exit', done));
  running.kill('SIGKILL');
  await exited;
}

async function waitForExit(): Promise<void> {
  const running = child;
  if (!running || running.exitCode !== null || running.signalCode !== null) return;
  await new Promise((done) => running.once('exit', done));
}

async function submitTextToModel(url: string): Promise<string> {
  const response = await fetch(`${url}/generation/text-to-model`, {
    method: 'POST',
    headers: { 'x-api-key': TEST_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ task_id: 'crash-window', provider: 'tripo', prompt: 'a small wooden chair' }),
  });
  expect(response.status).toBe(202);
  return String(((await response.json()) as { celery_task_id: string }).celery_task_id);
}

async function finished(url: string, jobId: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 2400; attempt++) {
    const response = await fetch(`${url}/tasks/${jobId}/status`, { headers: { 'x-api-key': TEST_KEY } });
    const body = (await response.json()) as Record<string, unknown>;
    if (body.status === 'complete' || body.status === 'failed') return body;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`task ${jobId} did not finish`);
}

const creates = () => tripoCalls().filter((call) => call.endpoint.startsWith('POST /v3/generation/'));

describe('a crash between a paid Tripo create and recording its task id', () => {
  it('does not create a second Tripo task after the restart; the task fails saying why', async () => {
    killOn = (method, path) => method === 'POST' && path.startsWith('/v3/generation/');
    const jobId = await submitTextToModel(await startChild());
    await waitForExit();
    expect(creates()).toHaveLength(1);

    // The restarted stack resumes every unfinished task.
    const task = await finished(await startChild(), jobId);
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_unavailable' });
    expect(String(task.error)).toMatch(/may or may not have created the job.*never paid twice/);
    expect(creates()).toHaveLength(1);
  });

  it('resumes the recorded Tripo task after a crash once its id is known: one create, one model', async () => {
    killOn = (method, path) => method === 'GET' && path.startsWith('/v3/tasks/');
    const jobId = await submitTextToModel(await startChild());
    await waitForExit();

    const task = await finished(await startChild(), jobId);
    expect(task.status).toBe('complete');
    expect(creates()).toHaveLength(1);
  });
});

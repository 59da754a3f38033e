import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetTripoSandbox } from '../../infra/local/sandbox/tripo.ts';
import {
  PNG_SIGNATURE,
  samplePng,
  startTestStack,
  TEST_KEY,
  type TestStack,
} from '../support/local-stack.ts';
import { holdTripoClock } from '../support/tripo-clock.ts';

/**
 * `npx makeit3d …` from the repository root against the local stack: under a pseudo-terminal
 * (util-linux `script`) it draws a progress bar redrawn with carriage returns, saves the
 * results and prints their paths; a failing task exits non-zero with the task's sentence; without
 * a terminal it prints plain lines; `--help` lists the fields.
 */

const ROOT = new URL('../..', import.meta.url).pathname;
let stack: TestStack;
let work: string;

beforeAll(async () => {
  stack = await startTestStack({ waitMs: 100 });
  work = mkdtempSync(join(tmpdir(), 'makeit3d-cli-'));
});

afterAll(async () => {
  resetTripoSandbox();
  await stack.stop();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/openai/faults`, { method: 'DELETE' });
  resetTripoSandbox();
});

function quote(argument: string): string {
  return `'${argument.replaceAll("'", "'\\''")}'`;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command from the repository root (asynchronously: the stack answers from this process);
 * `onOutput` sees stdout as it grows.
 */
function run(command: string, args: string[], onOutput?: (stdout: string) => void): Promise<Run> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, MAKEIT3D_BASE_URL: stack.url, MAKEIT3D_API_KEY: TEST_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    onOutput?.(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** `npx makeit3d …` under a pseudo-terminal: stdout and stderr both land in `stdout`. */
function runInTerminal(args: string[], onOutput?: (stdout: string) => void): Promise<Run> {
  const command = ['npx', 'makeit3d', ...args].map(quote).join(' ');
  return run('script', ['-q', '-e', '-c', command, '/dev/null'], onOutput);
}

function runPlain(args: string[]): Promise<Run> {
  return run('npx', ['makeit3d', ...args]);
}

/** The paths the CLI printed (one per line, after the progress). */
function savedPaths(output: string): string[] {
  return output
    .split(/\r?\n|\r/)
    .map((line) => line.replaceAll('\u001b[K', '').trim())
    .filter((line) => line.startsWith(work));
}

describe('makeit3d under a terminal', () => {
  it('draws a progress bar and saves the OpenAI image', async () => {
    const out = join(work, 'openai');
    const result = await runInTerminal([
      'text-to-image',
      '--provider',
      'openai',
      '--prompt',
      'a cat',
      '--task-id',
      't1',
      '--out',
      out,
      '--poll-interval',
      '0.05',
    ]);
    expect(result.code, result.stdout).toBe(0);
    // Frames redrawn in place: a carriage return, then the bar.
    expect(result.stdout).toMatch(/\r\[[█░]{30}\]/);
    expect(result.stdout).toMatch(/Submitted text-to-image \(openai\): job t1-\S+/);
    const [path] = savedPaths(result.stdout);
    expect(path).toMatch(/\/t1-\S+-0\.png$/);
    expect(readFileSync(path as string).subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });

  it("fills the bar with Tripo's progress and saves the GLB", async () => {
    // The simulator's clock moves only when this test says: half-way once the task exists, to the
    // end once the bar has shown that progress (no dependence on the machine's speed).
    const clock = holdTripoClock();
    void clock.created('text-to-model').then(() => clock.toHalfway());
    const midway = /\r\[[█░]{30}\] +([1-9]\d?)% processing/;
    const out = join(work, 'tripo');
    const running = runInTerminal(
      [
        'text-to-model',
        '--provider',
        'tripo',
        '--prompt',
        'a small wooden robot',
        '--texture',
        '--out',
        out,
        '--poll-interval',
        '0.05',
      ],
      (stdout) => {
        if (midway.test(stdout)) clock.toEnd();
      },
    );
    const result = await running;
    expect(result.code, result.stdout).toBe(0);
    const percents = [...result.stdout.matchAll(/\r\[[█░]{30}\] +(\d+)% processing/g)].map((match) =>
      Number(match[1]),
    );
    expect(percents.some((value) => value > 0 && value < 100)).toBe(true);
    const [path] = savedPaths(result.stdout);
    expect(path).toMatch(/\.glb$/);
    expect(
      readFileSync(path as string)
        .subarray(0, 4)
        .toString('latin1'),
    ).toBe('glTF');
  });

  it("exits non-zero with the task's error sentence when the task fails", async () => {
    await stack.fault('openai', { moderated: true });
    const out = join(work, 'failed');
    const result = await runInTerminal([
      'text-to-image',
      '--provider',
      'openai',
      '--prompt',
      'something refused',
      '--out',
      out,
      '--poll-interval',
      '0.05',
    ]);
    expect(result.code).toBe(1);
    const jobId = /job (\S+)/.exec(result.stdout)?.[1] as string;
    const status = (await (await stack.call(`/tasks/${jobId}/status`)).json()) as { error: string };
    expect(status.error).toMatch(/\S/);
    expect(result.stdout).toContain(`makeit3d: ${status.error} (content_moderated)`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('makeit3d without a terminal', () => {
  it('uploads a local input first, prints plain progress lines and the saved path', async () => {
    const input = join(work, 'photo.png');
    writeFileSync(input, await samplePng(128, 128));
    const body = join(work, 'request.json');
    writeFileSync(body, JSON.stringify({ task_id: 'cli-edit', provider: 'openai', prompt: 'make it red' }));
    const out = join(work, 'edit');
    const result = await runPlain([
      'image-to-image',
      '--body',
      body,
      '--image',
      input,
      '--out',
      out,
      '--poll-interval',
      '0.05',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).toMatch(/^uploading photo\.png$/m);
    expect(result.stderr).toMatch(/^complete$/m);
    const [path] = savedPaths(result.stdout);
    expect(readFileSync(path as string).subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const uploads = (await (await fetch(`${stack.url}/__storage/requests`)).json()) as { path: string }[];
    expect(uploads.some((entry) => /^uploads\/cli\/[0-9a-f-]{36}\/photo\.png$/.test(entry.path))).toBe(true);
  });

  it('submits without waiting, then reads the status and resumes the wait by job id', async () => {
    const submitted = await runPlain([
      'text-to-image',
      '--provider',
      'openai',
      '--prompt',
      'a hat',
      '--no-wait',
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const jobId = submitted.stdout.trim();
    expect(jobId).toMatch(/^cli-\d+-\S+$/);
    const out = join(work, 'resumed');
    const waited = await runPlain(['wait', jobId, '--out', out, '--poll-interval', '0.05']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(savedPaths(waited.stdout)).toEqual([join(out, `${jobId}-0.png`)]);
    const status = await runPlain(['status', jobId]);
    expect(JSON.parse(status.stdout)).toMatchObject({ task_id: jobId, status: 'complete' });
  });

  it("exits non-zero with the API's detail and the field on a 400", async () => {
    const result = await runPlain(['text-to-image', '--provider', 'openai', '--prompt', 'a cat', '--n', '9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('makeit3d: Invalid request: n must be an integer between 1 and 4');
    expect(result.stderr).toContain('n: must be an integer between 1 and 4');
  });

  it('lists the fields of each provider in --help, and refuses unknown flags', async () => {
    const help = await runPlain(['image-to-model', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Fields of image-to-model with --provider tripo:');
    expect(help.stdout).toContain('Fields of image-to-model with --provider stability:');
    expect(help.stdout).toMatch(/--face-limit <integer> +integer, 1 to 2000000/);
    const unknown = await runPlain(['text-to-image', '--provider', 'openai', '--colour', 'red']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown option --colour for text-to-image with provider openai');
  });
});

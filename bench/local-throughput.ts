import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Throughput of the local stack (`npm start`) beside a bare `node:http` server answering a fixed
 * JSON, measured in the same run on the same machine:
 *   - status reads: GET /tasks/{jobId}/status with the test key for a complete task, at
 *     concurrency 16 over keep-alive connections; reads/s, p50/p99 latency, and the server
 *     process's CPU time (all threads) per read, which a busy shared machine disturbs less than
 *     the rate;
 *   - submits: concurrent text-to-image submits to the OpenAI simulator; accepted 202s per second,
 *     and the time until every submitted task is complete.
 * Each server runs in a child process of its own (the stack with its default log level, logs
 * discarded), the load generator in this one. Rounds alternate stack and baseline; the figures
 * are medians over rounds. Run: `npm run bench:local` (`-- --rounds 5 --seconds 3`, and
 * `--key-cache-seconds 10` to run the stack with API_KEY_CACHE_SECONDS=10); to profile
 * the stack, BENCH_CHILD_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' passes flags to its process.
 */

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROUNDS = argument('rounds', 5);
const SECONDS = argument('seconds', 3);
const CONCURRENCY = argument('concurrency', 16);
const SUBMITS = argument('submits', 32);
/**
 * API_KEY_CACHE_SECONDS for the stack: unset (default 0, every request reads the key's item, as
 * deployed by default) unless `--key-cache-seconds N` opts in (README, Security).
 */
const KEY_CACHE_SECONDS = argument('key-cache-seconds', 0);
const TEST_KEY = 'makeit3d_test_sk_dev_001';
const FIXED_JSON = JSON.stringify({ status: 'complete', job_id: 'bench', asset_url: 'http://x/y.png' });

// ---- child side: one server, its URL sent to the parent ----

async function serveChild(kind: string): Promise<void> {
  // The parent asks for this process's CPU time (all its threads: the stack's DynamoDB thread too)
  // around each read round, to report CPU per read beside the rate.
  process.on('message', (message) => {
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  if (kind === 'bare') {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(FIXED_JSON);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    return;
  }
  const { startLocalStack } = await import('../infra/local/local-stack.ts');
  const dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-bench-local-'));
  const stack = await startLocalStack({
    port: 0,
    dataDir,
    reconcileIntervalMs: 0,
    // Only the per-key rate limits are raised (to measure the host, not the limiter); the limiter
    // still runs its DynamoDB update on every request.
    env: {
      RATE_LIMIT_STATUS_PER_MINUTE: '100000000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '100000000',
      ...(KEY_CACHE_SECONDS > 0 ? { API_KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS) } : {}),
    },
  });
  process.on('disconnect', () => {
    void stack.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  process.send?.({ url: stack.url.replace('localhost', '127.0.0.1') });
}

// ---- parent side: the load generator ----

interface Reply {
  status: number;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function call(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface ReadRound {
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU time of the server's process (user + system, every thread) per read, in microseconds. */
  cpuMicros: number;
}

interface Server {
  child: ChildProcess;
  url: string;
}

/** The server process's CPU time so far (user + system), in microseconds. */
function cpuOf(server: Server): Promise<number> {
  return new Promise((resolve) => {
    const listener = (message: { cpu?: NodeJS.CpuUsage }) => {
      if (!message.cpu) return;
      server.child.off('message', listener);
      resolve(message.cpu.user + message.cpu.system);
    };
    server.child.on('message', listener);
    server.child.send('cpu');
  });
}

/** `CONCURRENCY` loops asking `url` back to back for `SECONDS`; every answer must be a 200. */
async function readLoad(server: Server, url: string, headers: Record<string, string>): Promise<ReadRound> {
  const cpuBefore = await cpuOf(server);
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      const reply = await call(url, 'GET', undefined, headers);
      if (reply.status !== 200) throw new Error(`${url} answered ${reply.status}: ${reply.body}`);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const cpuMicros = ((await cpuOf(server)) - cpuBefore) / latencies.length;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMicros,
  };
}

interface SubmitRound {
  perSecond: number;
  completeMs: number;
}

let submitCounter = 0;

/** `SUBMITS` text-to-image submits at concurrency 16; then polls until each task is complete. */
async function submitLoad(base: string, bare: boolean): Promise<SubmitRound> {
  const started = performance.now();
  const jobs: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < SUBMITS) {
      next += 1;
      const body = JSON.stringify({
        task_id: `bench-${process.pid}-${submitCounter++}`,
        provider: 'openai',
        prompt: `a wooden chair, variant ${submitCounter}`,
      });
      const reply = await call(`${base}/generation/text-to-image`, 'POST', body, {
        'content-type': 'application/json',
        'x-api-key': TEST_KEY,
      });
      const expected = bare ? 200 : 202;
      if (reply.status !== expected) throw new Error(`submit answered ${reply.status}: ${reply.body}`);
      if (!bare) jobs.push(String((JSON.parse(reply.body) as { celery_task_id: string }).celery_task_id));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const perSecond = SUBMITS / ((performance.now() - started) / 1000);
  for (const job of jobs) {
    for (;;) {
      const reply = await call(`${base}/tasks/${job}/status`, 'GET', undefined, { 'x-api-key': TEST_KEY });
      const status = (JSON.parse(reply.body) as { status: string }).status;
      if (status === 'complete') break;
      if (status === 'failed') throw new Error(`task ${job} failed: ${reply.body}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return { perSecond, completeMs: performance.now() - started };
}

function startChild(kind: 'stack' | 'bare'): Promise<Server> {
  const child = fork(fileURLToPath(import.meta.url), ['--child', kind, ...process.argv.slice(2)], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve({ child, url: message.url }));
    child.once('exit', (code) => reject(new Error(`the ${kind} server exited with code ${code}`)));
  });
}

async function main(): Promise<void> {
  const stack = await startChild('stack');
  const bare = await startChild('bare');
  try {
    // The first submits also start the simulators' draw threads; not counted.
    const first = await submitLoad(stack.url, false);
    // One complete task to read, made through the API like any other.
    const accepted = await call(
      `${stack.url}/generation/text-to-image`,
      'POST',
      JSON.stringify({
        task_id: `bench-read-${process.pid}`,
        provider: 'openai',
        prompt: 'a chair to read the status of',
      }),
      { 'content-type': 'application/json', 'x-api-key': TEST_KEY },
    );
    const jobId = (JSON.parse(accepted.body) as { celery_task_id: string }).celery_task_id;
    for (;;) {
      const reply = await call(`${stack.url}/tasks/${jobId}/status`, 'GET', undefined, {
        'x-api-key': TEST_KEY,
      });
      if ((JSON.parse(reply.body) as { status: string }).status === 'complete') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    console.info(
      `warm-up: ${SUBMITS} submits, first round ${first.perSecond.toFixed(1)}/s (worker start-up included)`,
    );
    const statusUrl = `${stack.url}/tasks/${jobId}/status`;
    const reads = { stack: [] as ReadRound[], bare: [] as ReadRound[] };
    const submits = { stack: [] as SubmitRound[], bare: [] as SubmitRound[] };
    // Warm both servers' read paths once before measuring.
    await readLoad(stack, statusUrl, { 'x-api-key': TEST_KEY });
    await readLoad(bare, `${bare.url}/status`, {});
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so drift of the shared machine's speed hits both alike.
      const order = round % 2 === 0 ? (['stack', 'bare'] as const) : (['bare', 'stack'] as const);
      for (const which of order) {
        if (which === 'stack') reads.stack.push(await readLoad(stack, statusUrl, { 'x-api-key': TEST_KEY }));
        else reads.bare.push(await readLoad(bare, `${bare.url}/status`, {}));
      }
      for (const which of order) {
        if (which === 'stack') submits.stack.push(await submitLoad(stack.url, false));
        else submits.bare.push(await submitLoad(bare.url, true));
      }
    }
    const m = (rounds: ReadRound[], key: keyof ReadRound) => median(rounds.map((r) => r[key]));
    const s = (rounds: SubmitRound[], key: keyof SubmitRound) => median(rounds.map((r) => r[key]));
    console.info(
      `\n${ROUNDS} alternating rounds, medians; status reads at concurrency ${CONCURRENCY} for ${SECONDS} s; ` +
        `${SUBMITS} OpenAI text-to-image submits at concurrency ${CONCURRENCY}; API key cache ` +
        `${KEY_CACHE_SECONDS > 0 ? `${KEY_CACHE_SECONDS} s` : 'off (the default)'}\n`,
    );
    console.table({
      'status reads/s': {
        'local stack': Math.round(m(reads.stack, 'perSecond')),
        'bare node:http': Math.round(m(reads.bare, 'perSecond')),
        ratio: (m(reads.stack, 'perSecond') / m(reads.bare, 'perSecond')).toFixed(3),
      },
      'status p50 ms': {
        'local stack': m(reads.stack, 'p50').toFixed(1),
        'bare node:http': m(reads.bare, 'p50').toFixed(1),
        ratio: (m(reads.stack, 'p50') / m(reads.bare, 'p50')).toFixed(1),
      },
      'server CPU µs per read': {
        'local stack': Math.round(m(reads.stack, 'cpuMicros')),
        'bare node:http': Math.round(m(reads.bare, 'cpuMicros')),
        ratio: (m(reads.stack, 'cpuMicros') / m(reads.bare, 'cpuMicros')).toFixed(1),
      },
      'status p99 ms': {
        'local stack': m(reads.stack, 'p99').toFixed(1),
        'bare node:http': m(reads.bare, 'p99').toFixed(1),
        ratio: (m(reads.stack, 'p99') / m(reads.bare, 'p99')).toFixed(1),
      },
      'submits/s (202s)': {
        'local stack': s(submits.stack, 'perSecond').toFixed(1),
        'bare node:http': s(submits.bare, 'perSecond').toFixed(1),
        ratio: (s(submits.stack, 'perSecond') / s(submits.bare, 'perSecond')).toFixed(3),
      },
      [`all ${SUBMITS} complete, ms`]: {
        'local stack': Math.round(s(submits.stack, 'completeMs')),
        'bare node:http': '-',
        ratio: '-',
      },
    });
  } finally {
    agent.destroy();
    stack.child.disconnect();
    bare.child.kill();
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) await serveChild(process.argv[childAt + 1] ?? 'bare');
else await main();

import {
  defaultPollDelayMs,
  MakeIt3DClient,
  MakeIt3DConflictError,
  MakeIt3DNetworkError,
  MakeIt3DRateLimitError,
  MakeIt3DServerError,
  MakeIt3DTaskFailedError,
  MakeIt3DTimeoutError,
  MakeIt3DValidationError,
  type TaskStatus,
} from '@makeit3d/client';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../clients/typescript/src/errors.ts';

/**
 * The typed client against a scripted `fetch` (the network edge): retries, Retry-After,
 * Idempotency-Key reuse, typed errors, and waitForResult's endings. The same client against the
 * real local stack: test/e2e/client.test.ts.
 */

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type Scripted = Response | Error | ((call: Call) => Response | Error);

/** A fetch that answers each call with the next scripted answer (the last one repeats). */
function scriptedFetch(answers: Scripted[]) {
  const calls: Call[] = [];
  const fetchImpl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const call: Call = {
      url: String(input),
      method: init.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? init.body : undefined,
    };
    calls.push(call);
    if (init.signal?.aborted) throw init.signal.reason;
    const next = answers[Math.min(calls.length - 1, answers.length - 1)] as Scripted;
    const answer = typeof next === 'function' ? next(call) : next;
    if (answer instanceof Error) throw answer;
    return answer.clone();
  }) as typeof fetch;
  return { fetchImpl, calls };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const ACCEPTED = {
  celery_task_id: 'job-1',
  task_id: 'ws-1',
  status: 'pending',
  status_url: '/tasks/job-1/status',
};

function status(overrides: Partial<TaskStatus>): TaskStatus {
  return {
    task_id: 'job-1',
    status: 'processing',
    asset_url: null,
    error: null,
    progress: null,
    client_task_id: 'ws-1',
    operation: 'text-to-model',
    provider: 'tripo',
    ai_service_task_id: null,
    created_at: '2026-12-02T08:00:00.000Z',
    updated_at: '2026-12-02T08:00:00.000Z',
    ...overrides,
  };
}

const request = { task_id: 'ws-1', provider: 'openai', prompt: 'a cat' } as const;

describe('submit', () => {
  it('sends the API key, JSON and a fresh Idempotency-Key, and returns the job', async () => {
    const { fetchImpl, calls } = scriptedFetch([json(202, ACCEPTED)]);
    const client = new MakeIt3DClient({ baseUrl: 'http://api.test/', apiKey: 'k', fetch: fetchImpl });
    const submitted = await client.textToImage(request);
    expect(calls[0]).toMatchObject({
      url: 'http://api.test/generation/text-to-image',
      method: 'POST',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
    });
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual(request);
    expect(calls[0]?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(submitted).toMatchObject({
      ...ACCEPTED,
      jobId: 'job-1',
      operation: 'text-to-image',
      provider: 'openai',
      replayed: false,
      idempotencyKey: calls[0]?.headers['idempotency-key'],
    });
    await client.textToImage(request);
    expect(calls[1]?.headers['idempotency-key']).not.toBe(calls[0]?.headers['idempotency-key']);
  });

  it('retries a 503, a 429 and a lost connection with the same Idempotency-Key, waiting Retry-After', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(503, { detail: 'The task could not be started; please retry shortly' }, { 'retry-after': '0' }),
      json(429, { detail: 'Rate limit exceeded' }, { 'retry-after': '0' }),
      new TypeError('fetch failed'),
      json(200, ACCEPTED),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl, maxRetryDelayMs: 0 });
    const submitted = await client.textToImage(request, { idempotencyKey: 'key-1' });
    expect(calls.map((call) => call.headers['idempotency-key'])).toEqual([
      'key-1',
      'key-1',
      'key-1',
      'key-1',
    ]);
    expect(submitted.replayed).toBe(true);
    expect(submitted.idempotencyKey).toBe('key-1');
  });

  it('never repeats a submit sent without an Idempotency-Key', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(503, { detail: 'The task could not be started; please retry shortly' }, { 'retry-after': '0' }),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    const error = await client.textToImage(request, { idempotencyKey: false }).catch((caught) => caught);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers['idempotency-key']).toBeUndefined();
    expect(error).toMatchObject({ name: 'MakeIt3DUnavailableError', status: 503, retryAfterSeconds: 0 });
  });

  it('throws typed errors carrying status, detail, field errors and the request id', async () => {
    const body = {
      detail: 'Invalid request: n must be an integer between 1 and 4',
      errors: [{ field: 'n', message: 'must be an integer between 1 and 4' }],
    };
    const { fetchImpl } = scriptedFetch([
      json(400, body, { 'x-request-id': 'req-1' }),
      json(409, { detail: 'Idempotency-Key was already used with a different request body' }),
      json(500, { detail: 'Internal server error' }),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl, maxRetries: 0 });
    const invalid = await client.textToImage(request).catch((caught) => caught);
    expect(invalid).toBeInstanceOf(MakeIt3DValidationError);
    expect(invalid).toMatchObject({
      status: 400,
      detail: body.detail,
      errors: body.errors,
      requestId: 'req-1',
    });
    expect(invalid.message).toBe(body.detail);
    await expect(client.textToImage(request)).rejects.toBeInstanceOf(MakeIt3DConflictError);
    await expect(client.textToImage(request)).rejects.toBeInstanceOf(MakeIt3DServerError);
  });

  it('distinguishes a request that got no answer', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl, maxRetries: 1, maxRetryDelayMs: 0 });
    const error = await client.getStatus('job-1').catch((caught) => caught);
    expect(error).toBeInstanceOf(MakeIt3DNetworkError);
    expect(error.status).toBeUndefined();
    expect(error.detail).toBe('Could not reach http://localhost:8000: ECONNREFUSED');
    expect(calls).toHaveLength(2);
  });
});

describe('getStatus', () => {
  it('retries 429 after its Retry-After and returns the typed status', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(429, { detail: 'Rate limit exceeded' }, { 'retry-after': '0' }),
      json(200, status({ status: 'pending' })),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    const answer = await client.getStatus('job/1');
    expect(answer.status).toBe('pending');
    expect(calls.map((call) => call.url)).toEqual([
      'http://localhost:8000/tasks/job%2F1/status',
      'http://localhost:8000/tasks/job%2F1/status',
    ]);
  });

  it('gives up after maxRetries with the typed rate-limit error', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(429, { detail: 'Rate limit exceeded' }, { 'retry-after': '0' }),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl, maxRetries: 2 });
    await expect(client.getStatus('job-1')).rejects.toBeInstanceOf(MakeIt3DRateLimitError);
    expect(calls).toHaveLength(3);
  });
});

describe('waitForResult', () => {
  it('reports progress, waits out 503s and resolves with every result URL', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(200, status({ status: 'pending' })),
      json(
        503,
        { detail: 'Authentication is temporarily unavailable; please retry shortly' },
        { 'retry-after': '0' },
      ),
      json(200, status({ progress: 40 })),
      new TypeError('fetch failed'),
      json(200, status({ progress: 80 })),
      json(
        200,
        status({
          status: 'complete',
          progress: 100,
          asset_url: 'https://s.test/0.glb',
          asset_urls: ['https://s.test/0.glb', 'https://s.test/1.glb'],
        }),
      ),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    const seen: [string, number | null][] = [];
    const result = await client.waitForResult('job-1', {
      pollIntervalMs: 0,
      onProgress: ({ status: state, progress }) => seen.push([state, progress]),
    });
    expect(seen).toEqual([
      ['pending', null],
      ['processing', 40],
      ['processing', 80],
      ['complete', 100],
    ]);
    expect(result.assetUrls).toEqual(['https://s.test/0.glb', 'https://s.test/1.glb']);
    expect(result.jobId).toBe('job-1');
    expect(calls).toHaveLength(6);
  });

  it('rejects a failed task with its error and error_code', async () => {
    const failed = status({
      status: 'failed',
      error: 'Tripo refused the prompt on content-policy grounds; change the prompt',
      error_code: 'content_moderated',
    });
    const { fetchImpl } = scriptedFetch([json(200, failed)]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    const error = await client.waitForResult('job-1', { pollIntervalMs: 0 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(MakeIt3DTaskFailedError);
    expect(error).toMatchObject({
      errorCode: 'content_moderated',
      detail: failed.error,
      jobId: 'job-1',
      task: failed,
    });
  });

  it('does not retry a 404 (typed) and ends on abort with the signal reason', {
    timeout: 20_000,
  }, async () => {
    const { fetchImpl } = scriptedFetch([json(404, { detail: 'Task not found' })]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    await expect(client.waitForResult('nope', { pollIntervalMs: 0 })).rejects.toMatchObject({
      name: 'MakeIt3DNotFoundError',
      status: 404,
      detail: 'Task not found',
    });

    const processing = scriptedFetch([json(200, status({}))]);
    const polling = new MakeIt3DClient({ apiKey: 'k', fetch: processing.fetchImpl });
    const controller = new AbortController();
    const reason = new Error('user went away');
    const waiting = polling.waitForResult('job-1', {
      pollIntervalMs: 60_000,
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    });
    await expect(waiting).rejects.toBe(reason);
  });

  it('tries a lost connection again at the next interval, but gives up after maxRetries in a row', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      json(200, status({ progress: 5 })),
      new TypeError('fetch failed'),
      json(200, status({ progress: 6 })),
      new TypeError('fetch failed'),
    ]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl, maxRetries: 2 });
    const error = await client.waitForResult('job-1', { pollIntervalMs: 0 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(MakeIt3DNetworkError);
    // two readings, then the first loss, then three losses in a row (the third one gives up)
    expect(calls).toHaveLength(6);
  });

  it('times out with the last status read', async () => {
    const { fetchImpl } = scriptedFetch([json(200, status({ progress: 12 }))]);
    const client = new MakeIt3DClient({ apiKey: 'k', fetch: fetchImpl });
    const error = await client
      .waitForResult('job-1', { timeoutMs: 30, pollIntervalMs: 5 })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(MakeIt3DTimeoutError);
    expect(error.jobId).toBe('job-1');
    expect(error.lastStatus?.progress).toBe(12);
  });
});

describe('polling schedule and Retry-After', () => {
  it("follows the guide's provider-aware backoff", () => {
    const openai = [0, 1, 2, 3, 4].map((attempt) =>
      defaultPollDelayMs(attempt, { provider: 'openai', operation: 'text-to-image' }),
    );
    const tripo = [0, 1, 2, 3, 4].map((attempt) =>
      defaultPollDelayMs(attempt, { provider: 'tripo', operation: 'text-to-model' }),
    );
    expect(openai).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(tripo).toEqual([3000, 6000, 12000, 15000, 15000]);
    expect(defaultPollDelayMs(0, { provider: 'stability', operation: 'image-to-model' })).toBe(3000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-12-02T08:00:00.000Z');
    expect(parseRetryAfter('Wed, 02 Dec 2026 08:00:30 GMT', now)).toBe(30);
  });
});

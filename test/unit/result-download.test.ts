import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import {
  ProviderRejectedError,
  ProviderResultUnavailableError,
  ProviderUnavailableError,
} from '../../functions/core/errors.ts';
import {
  downloadProviderFile,
  RESULT_DOWNLOAD_RETRY,
  withProviderFetch,
} from '../../functions/core/providers/http-client.ts';
import { RETRY_AFTER_CAP_MS, retryTiming } from '../../functions/core/transient-retry.ts';

/**
 * Result downloads through an injected fetch (the network edge): which answers are retried and
 * how long each wait is (waits are recorded, not slept), redirects followed by hand under the
 * https rule, stalls and timeouts abandoned, and what is thrown when retrying does not help.
 */

const PROVIDER_BASE = 'http://provider.test/v1';
const RESULT_URL = 'https://cdn.provider.example/results/abc.png';
const BYTES = Buffer.from('the result bytes');

/** What the fake network answers for one request. */
type Answer =
  | { status: number; headers?: Record<string, string>; body?: string | Buffer }
  | { reset: true }
  | { hang: true }
  | { partialThenStall: Buffer }
  | { trickle: true };

interface Network {
  calls: string[];
  fetch: typeof fetch;
}

/** A fetch that answers each URL from its own queue, in order, and records every request. */
function network(answers: Record<string, Answer[]>): Network {
  const calls: string[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    calls.push(url);
    expect(init?.redirect).toBe('manual');
    const signal = init?.signal ?? undefined;
    const answer = answers[url]?.shift();
    if (!answer) throw new Error(`unexpected request to ${url}`);
    if ('reset' in answer) throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
    if ('hang' in answer) {
      // Like a server that never sends headers: only the client's signal ends it.
      return new Promise<Response>((_resolve, reject) => {
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    if ('partialThenStall' in answer) {
      const part = answer.partialThenStall;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array(part));
          // Nothing more, ever: the reader must give up on its own.
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'image/png' } });
    }
    if ('trickle' in answer) {
      // A byte every 20 ms, never ending: only a time limit stops it.
      let timer: NodeJS.Timeout | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(() => controller.enqueue(new Uint8Array([1])), 20);
        },
        cancel() {
          clearInterval(timer);
        },
      });
      signal?.addEventListener('abort', () => clearInterval(timer), { once: true });
      return new Response(body, { status: 200 });
    }
    const body = answer.body === undefined ? null : new Uint8Array(Buffer.from(answer.body));
    return new Response(body, { status: answer.status, headers: answer.headers ?? {} });
  };
  return { calls, fetch: fake as typeof fetch };
}

const ok = (): Answer => ({ status: 200, headers: { 'content-type': 'image/png' }, body: BYTES });
const status = (code: number, headers: Record<string, string> = {}): Answer => ({
  status: code,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ message: `HTTP ${code} from the test` }),
});

let waits: number[] = [];
const timingBefore = { ...retryTiming };
const policyBefore = { ...RESULT_DOWNLOAD_RETRY };

beforeAll(() => {
  process.env.PROVIDER_TIMEOUT_SECONDS = '30';
  resetConfig();
});

afterAll(() => {
  delete process.env.PROVIDER_TIMEOUT_SECONDS;
  resetConfig();
});

beforeEach(() => {
  waits = [];
  // Production waits, recorded instead of slept; jitter fixed at its middle.
  retryTiming.waitScale = 1;
  retryTiming.random = () => 0.5;
  retryTiming.sleep = async (ms: number) => {
    waits.push(ms);
  };
});

afterEach(() => {
  Object.assign(retryTiming, timingBefore);
  Object.assign(RESULT_DOWNLOAD_RETRY, policyBefore);
  process.env.PROVIDER_TIMEOUT_SECONDS = '30';
  resetConfig();
});

function download(net: Network, url = RESULT_URL): Promise<Buffer> {
  return withProviderFetch(net.fetch, () => downloadProviderFile('Acme', url, PROVIDER_BASE));
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(caught instanceof Error)) throw new Error('expected the download to fail');
  return caught;
}

describe('transient answers are retried with backoff', () => {
  it('503 twice, then the file: three requests, growing waits', async () => {
    const net = network({ [RESULT_URL]: [status(503), status(503), ok()] });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toEqual([RESULT_URL, RESULT_URL, RESULT_URL]);
    // 1 s then 2 s, each with equal jitter (here at its middle: three quarters).
    expect(waits).toEqual([750, 1500]);
  });

  it.each([408, 425, 429, 500, 502, 504])('retries HTTP %i', async (code) => {
    const net = network({ [RESULT_URL]: [status(code), ok()] });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toHaveLength(2);
  });

  it('honours Retry-After on a 429, in seconds or as a date, and caps it', async () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const net = network({
      [RESULT_URL]: [
        status(429, { 'retry-after': '7' }),
        status(503, { 'retry-after': '120' }),
        status(429, { 'retry-after': inAMinute }),
        ok(),
      ],
    });
    expect(await download(net)).toEqual(BYTES);
    expect(waits).toEqual([7000, RETRY_AFTER_CAP_MS, RETRY_AFTER_CAP_MS]);
  });

  it('never waits less than the backoff when Retry-After asks for less', async () => {
    const net = network({ [RESULT_URL]: [status(429, { 'retry-after': '0' }), ok()] });
    await download(net);
    expect(waits).toEqual([750]);
  });

  it('retries a reset connection', async () => {
    const net = network({ [RESULT_URL]: [{ reset: true }, ok()] });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toHaveLength(2);
  });

  it('gives up after four attempts with ProviderUnavailableError, naming the last failure', async () => {
    const net = network({ [RESULT_URL]: [status(503), status(503), status(502), status(503)] });
    const error = await failure(download(net));
    expect(error).toBeInstanceOf(ProviderResultUnavailableError);
    // The state machine retries a poll step on this name.
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.name).toBe('ProviderUnavailableError');
    expect(error.message).toMatch(
      /^Acme result could not be downloaded after 4 attempts \(HTTP 503: HTTP 503 from the test\); retrying may help$/,
    );
    expect(net.calls).toHaveLength(4);
    expect(waits).toEqual([750, 1500, 3000]);
  });

  it('takes no wait that would end past the time budget', async () => {
    RESULT_DOWNLOAD_RETRY.budgetMs = 20_000;
    const net = network({ [RESULT_URL]: [status(429, { 'retry-after': '25' })] });
    const error = await failure(download(net));
    expect(error).toBeInstanceOf(ProviderResultUnavailableError);
    expect(error.message).toMatch(/after 1 attempt \(HTTP 429/);
    expect(waits).toEqual([]);
  });
});

describe('answers retrying cannot fix', () => {
  it.each([400, 401, 403, 404, 410])('HTTP %i is a ProviderRejectedError at once', async (code) => {
    const net = network({ [RESULT_URL]: [status(code)] });
    const error = await failure(download(net));
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.message).toMatch(new RegExp(`^Acme result could not be downloaded \\(HTTP ${code}`));
    expect(net.calls).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('refuses a declared size over 100 MiB without reading it', async () => {
    const net = network({
      [RESULT_URL]: [{ status: 200, headers: { 'content-length': String(101 * 1024 * 1024) } }],
    });
    await expect(download(net)).rejects.toThrow(/larger than 104857600 bytes/);
  });
});

describe('redirects, followed by hand', () => {
  it('follows a redirect to https elsewhere', async () => {
    const moved = 'https://delivery.other.example/abc.png';
    const net = network({
      [RESULT_URL]: [{ status: 302, headers: { location: moved } }],
      [moved]: [ok()],
    });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toEqual([RESULT_URL, moved]);
  });

  it('follows a relative redirect on the provider’s own (plain http) origin', async () => {
    const first = 'http://provider.test/files/a.png';
    const net = network({
      [first]: [{ status: 307, headers: { location: '/files/b.png' } }],
      'http://provider.test/files/b.png': [ok()],
    });
    expect(await download(net, first)).toEqual(BYTES);
  });

  it('refuses a redirect to plain http elsewhere, without requesting it', async () => {
    const net = network({
      [RESULT_URL]: [{ status: 302, headers: { location: 'http://attacker.example/steal' } }],
    });
    const error = await failure(download(net));
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error.message).toBe(
      'Acme result download redirected to a URL that is not https (http://attacker.example); it was not fetched',
    );
    expect(net.calls).toEqual([RESULT_URL]);
  });

  it('refuses a result URL that is plain http elsewhere before any request', async () => {
    const net = network({});
    await expect(download(net, 'http://cdn.example/a.png')).rejects.toThrow(
      /returned a result URL that is not https/,
    );
    expect(net.calls).toEqual([]);
  });

  it('stops after three redirects', async () => {
    const hop = (n: number) => `https://cdn.provider.example/hop/${n}`;
    const net = network({
      [RESULT_URL]: [{ status: 302, headers: { location: hop(1) } }],
      [hop(1)]: [{ status: 302, headers: { location: hop(2) } }],
      [hop(2)]: [{ status: 302, headers: { location: hop(3) } }],
      [hop(3)]: [{ status: 302, headers: { location: hop(4) } }],
    });
    await expect(download(net)).rejects.toThrow('Acme result download redirected more than 3 times');
    expect(net.calls).toHaveLength(4);
  });

  it('retries from the provider’s URL when the redirect target is unavailable', async () => {
    const moved = 'https://delivery.other.example/abc.png';
    const net = network({
      [RESULT_URL]: [
        { status: 302, headers: { location: moved } },
        { status: 302, headers: { location: moved } },
      ],
      [moved]: [status(503), ok()],
    });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toEqual([RESULT_URL, moved, RESULT_URL, moved]);
  });
});

describe('stalls and time limits', () => {
  beforeEach(() => {
    retryTiming.stallMs = 300;
  });

  it('abandons a body that stops arriving and downloads again', async () => {
    const net = network({ [RESULT_URL]: [{ partialThenStall: BYTES.subarray(0, 4) }, ok()] });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toHaveLength(2);
  });

  it('abandons a request that never gets headers', async () => {
    const net = network({ [RESULT_URL]: [{ hang: true }, ok()] });
    expect(await download(net)).toEqual(BYTES);
  });

  it('reports a stall that outlasts every attempt as unavailable', async () => {
    const stall = (): Answer => ({ partialThenStall: BYTES.subarray(0, 4) });
    const net = network({ [RESULT_URL]: [stall(), stall(), stall(), stall()] });
    const error = await failure(download(net));
    expect(error).toBeInstanceOf(ProviderResultUnavailableError);
    expect(error.message).toMatch(/after 4 attempts \(stalled: no data for 0\.3 s\)/);
  });

  it('ends an attempt that keeps trickling at PROVIDER_TIMEOUT_SECONDS', async () => {
    process.env.PROVIDER_TIMEOUT_SECONDS = '0.3';
    resetConfig();
    retryTiming.stallMs = 10_000;
    const net = network({ [RESULT_URL]: [{ trickle: true }, ok()] });
    expect(await download(net)).toEqual(BYTES);
    expect(net.calls).toHaveLength(2);
  });
});

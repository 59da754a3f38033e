import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { errorCodeFor, InputNotFoundError, ProviderUnavailableError } from '../../functions/core/errors.ts';
import { fetchInput, INPUT_FETCH_RETRY } from '../../functions/core/storage/input-fetcher.ts';
import { retryTiming } from '../../functions/core/transient-retry.ts';

/**
 * Input downloads when Storage misbehaves, against a real HTTP server playing the configured
 * Supabase project: each request takes the next scripted behaviour (an error status, a reset, a
 * stall after part of the body, or the file), so every case is a fixed sequence, not a race.
 */

type Behaviour =
  | { status: number; headers?: Record<string, string> }
  | 'reset'
  | 'stall-mid-body'
  | 'stall-before-headers'
  | 'file';

const FILE = Buffer.alloc(600, 7);
let storage: Server;
let base = '';
let script: Behaviour[] = [];
let served: Behaviour[] = [];
const timingBefore = { ...retryTiming };
let waits: number[] = [];

function serve(request: IncomingMessage, response: ServerResponse): void {
  const behaviour = script.shift() ?? 'file';
  served.push(behaviour);
  // A fresh connection per request: no case meets a kept-alive socket the last one left behind.
  response.setHeader('connection', 'close');
  if (behaviour === 'file') {
    response.writeHead(200, { 'content-type': 'image/png', 'content-length': String(FILE.length) });
    response.end(FILE);
    return;
  }
  if (behaviour === 'reset') {
    request.socket.destroy();
    return;
  }
  if (behaviour === 'stall-mid-body') {
    // Headers and half the body, then nothing until the client gives up.
    response.writeHead(200, { 'content-type': 'image/png', 'content-length': String(FILE.length) });
    response.write(FILE.subarray(0, 300));
    return;
  }
  if (behaviour === 'stall-before-headers') return;
  response.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
  response.end(JSON.stringify({ statusCode: String(behaviour.status), error: 'scripted' }));
}

beforeAll(async () => {
  storage = createServer(serve);
  await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  process.env.SUPABASE_URL = base;
  process.env.MAX_INPUT_BYTES = String(1024 * 1024);
  resetConfig();
});

afterAll(async () => {
  storage.closeAllConnections();
  await new Promise((resolve) => storage.close(resolve));
  Object.assign(retryTiming, timingBefore);
});

beforeEach(() => {
  script = [];
  served = [];
  waits = [];
  // Waits are recorded, not slept; a stall is declared after one second without a byte.
  retryTiming.waitScale = 1;
  retryTiming.random = () => 0.5;
  retryTiming.sleep = async (ms: number) => {
    waits.push(ms);
  };
  retryTiming.stallMs = 1000;
});

const url = `/storage/v1/object/public/bucket/uploads/input.png`;
const fetchIt = () => fetchInput('input_image_asset_url', `${base}${url}`);

async function failure(promise: Promise<unknown>): Promise<Error> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(caught instanceof Error)) throw new Error('expected the input download to fail');
  return caught;
}

describe('input downloads retry what Storage may fix', () => {
  it('reads the file after two 503s, waiting between attempts', async () => {
    script = [{ status: 503 }, { status: 503 }];
    const input = await fetchIt();
    expect(input.bytes).toEqual(FILE);
    expect(served).toEqual([{ status: 503 }, { status: 503 }, 'file']);
    expect(waits).toEqual([750, 1500]);
  });

  it('honours Retry-After on a 429', async () => {
    script = [{ status: 429, headers: { 'retry-after': '4' } }];
    expect((await fetchIt()).bytes).toEqual(FILE);
    expect(waits).toEqual([4000]);
  });

  it('retries a reset connection', async () => {
    script = ['reset'];
    expect((await fetchIt()).bytes).toEqual(FILE);
    expect(served).toEqual(['reset', 'file']);
  });

  it('abandons a download that stalls part-way and reads it again', async () => {
    script = ['stall-mid-body'];
    expect((await fetchIt()).bytes).toEqual(FILE);
    expect(served).toEqual(['stall-mid-body', 'file']);
  });

  it('abandons a request that never gets headers', async () => {
    script = ['stall-before-headers'];
    expect((await fetchIt()).bytes).toEqual(FILE);
    expect(served).toEqual(['stall-before-headers', 'file']);
  });

  it('after every attempt stalls: ProviderUnavailableError (retried by the state machine), never internal', async () => {
    script = ['stall-mid-body', 'stall-mid-body', 'stall-mid-body'];
    const error = await failure(fetchIt());
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(errorCodeFor(error.name)).toBe('provider_unavailable');
    expect(error.message).toBe(
      'Could not download input_image_asset_url from storage after 3 attempts (stalled: no data for 1 s); retrying may help',
    );
    expect(served).toHaveLength(INPUT_FETCH_RETRY.attempts);
  });

  it('after every attempt answers 5xx: ProviderUnavailableError naming the status', async () => {
    script = [{ status: 500 }, { status: 502 }, { status: 503 }];
    const error = await failure(fetchIt());
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toMatch(/after 3 attempts \(storage answered HTTP 503\); retrying may help$/);
  });
});

describe('answers retrying cannot fix', () => {
  it.each([400, 403, 404])('HTTP %i is not retried', async (code) => {
    script = [{ status: code }];
    await expect(fetchIt()).rejects.toThrow(InputNotFoundError);
    expect(served).toHaveLength(1);
    expect(waits).toEqual([]);
  });
});

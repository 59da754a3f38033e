import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { fluxSimulator } from '../../infra/local/sandbox/flux.ts';
import { openaiSimulator } from '../../infra/local/sandbox/openai.ts';
import { recraftSimulator } from '../../infra/local/sandbox/recraft.ts';
import {
  type SandboxContext,
  type SandboxSimulator,
  SandboxState,
  sandboxContext,
} from '../../infra/local/sandbox/sandbox.ts';
import { stabilitySimulator } from '../../infra/local/sandbox/stability.ts';
import { tripoSimulator } from '../../infra/local/sandbox/tripo.ts';

/**
 * A `timeout` fault hangs until the client disconnects. undici ties a Request's signal to the
 * caller's signal only through a weak reference, so a hang must hold the Request itself or a
 * garbage collection mid-hang loses the abort and the hang never ends (a test once waited its
 * full 180 s for that). These tests force collections where it would hurt.
 */

// `gc` is not exposed in vitest's workers; the V8 flag can still be turned on from inside.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Full collections in fresh tasks: a WeakRef read in the current task keeps its target until it ends. */
async function collectGarbage(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await nextTask();
    gc();
  }
  await nextTask();
}

interface Case {
  name: string;
  simulator: SandboxSimulator;
  path: string;
  request(url: string, signal: AbortSignal): Request;
}

const json = (headers: Record<string, string>, body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

function form(fields: Record<string, string>): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}

/** One request per simulator that reaches its fault check (authenticated, on a real endpoint). */
const CASES: Case[] = [
  {
    name: 'OpenAI',
    simulator: openaiSimulator,
    path: '/v1/images/generations',
    request: (url, signal) =>
      new Request(url, { ...json({ authorization: 'Bearer sk-sandbox' }, { prompt: 'x' }), signal }),
  },
  {
    name: 'Recraft',
    simulator: recraftSimulator,
    path: '/v1/images/generations',
    request: (url, signal) =>
      new Request(url, { ...json({ authorization: 'Bearer recraft-sandbox' }, { prompt: 'x' }), signal }),
  },
  {
    name: 'Stability',
    simulator: stabilitySimulator,
    path: '/v2beta/stable-image/generate/core',
    request: (url, signal) =>
      new Request(url, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-sandbox' },
        body: form({ prompt: 'x' }),
        signal,
      }),
  },
  {
    name: 'BFL (flux)',
    simulator: fluxSimulator,
    path: '/v1/flux-kontext-pro',
    request: (url, signal) =>
      new Request(url, { ...json({ 'x-key': 'bfl-sandbox' }, { prompt: 'x' }), signal }),
  },
  {
    name: 'Tripo',
    simulator: tripoSimulator,
    path: '/v3/generation/text-to-model',
    request: (url, signal) =>
      new Request(url, {
        ...json({ authorization: 'Bearer tsk_sandbox_primary' }, { prompt: 'x', model: 'v3.1-20260211' }),
        signal,
      }),
  },
];

/** A context whose `hang` also reports that the simulator has entered it. */
function watchedContext(
  state: SandboxState,
  baseUrl: string,
): { context: SandboxContext; hung: Promise<void> } {
  const inner = sandboxContext(state, baseUrl);
  let entered: () => void = () => {};
  const hung = new Promise<void>((resolve) => {
    entered = resolve;
  });
  return {
    hung,
    context: {
      ...inner,
      hang: (target) => {
        entered();
        return inner.hang(target);
      },
    },
  };
}

describe('the shared sandbox hang', () => {
  it('really collects an unreferenced Request here (so the tests below can fail)', async () => {
    const controller = new AbortController();
    const ref = ((): WeakRef<Request> =>
      new WeakRef(new Request('http://sandbox.test/', { signal: controller.signal })))();
    await collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });

  it('keeps a hanging Request alive through garbage collection and ends on abort', async () => {
    const controller = new AbortController();
    const context = sandboxContext(new SandboxState(), 'http://sandbox.test');
    let settled = false;
    // The Request exists only inside the hang from here on, as in a simulator.
    const pending = context.hang(new Request('http://sandbox.test/', { signal: controller.signal }));
    pending.catch(() => {
      settled = true;
    });
    await collectGarbage();
    expect(settled).toBe(false);
    controller.abort();
    await nextTask();
    expect(settled).toBe(true);
    await expect(pending).rejects.toThrow('client disconnected');
  });

  it('lets go of the Request once the hang has ended', async () => {
    const controller = new AbortController();
    const context = sandboxContext(new SandboxState(), 'http://sandbox.test');
    let ref: WeakRef<Request> | undefined;
    // Only the outcome's message is kept: a live Error's unformatted stack can hold the objects
    // of the frames that made it, which would say nothing about the hang itself.
    const outcome = await (async (): Promise<string> => {
      const request = new Request('http://sandbox.test/', { signal: controller.signal });
      ref = new WeakRef(request);
      const pending = context.hang(request);
      controller.abort();
      return pending.then(
        () => 'resolved',
        (error: Error) => error.message,
      );
    })();
    expect(outcome).toBe('client disconnected');
    await collectGarbage();
    expect(ref?.deref()).toBeUndefined();
  });

  it('rejects at once when the client is already gone', async () => {
    const controller = new AbortController();
    controller.abort();
    const context = sandboxContext(new SandboxState(), 'http://sandbox.test');
    await expect(
      context.hang(new Request('http://sandbox.test/', { signal: controller.signal })),
    ).rejects.toThrow('client disconnected');
  });

  it('ends a hang nobody aborts after maxHangMs', async () => {
    const context = sandboxContext(new SandboxState(), 'http://sandbox.test', 0);
    await expect(context.hang(new Request('http://sandbox.test/'))).rejects.toThrow('sandbox hang ended');
  });
});

describe.each(CASES)('$name timeout fault', ({ simulator, path, request }) => {
  it('still ends when the client aborts after a garbage collection mid-hang', async () => {
    const baseUrl = `http://sandbox.test/__sandbox/${simulator.provider}`;
    const state = new SandboxState();
    state.addFault({ timeout: true, times: 1 });
    const { context, hung } = watchedContext(state, baseUrl);
    const controller = new AbortController();
    let settled = false;
    // Nothing here keeps the Request: only the simulator (and what it hands to `hang`) can.
    const pending = simulator.handle(request(`${baseUrl}${path}`, controller.signal), path, context);
    pending.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await hung;
    await collectGarbage();
    expect(settled).toBe(false);
    controller.abort();
    await nextTask();
    expect(settled, `${simulator.provider}: the abort never reached the hang`).toBe(true);
    await expect(pending).rejects.toThrow('client disconnected');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetTripoSandbox, setTripoTimeline } from '../../infra/local/sandbox/tripo.ts';
import { runSmoke, type SmokeResult } from '../../infra/smoke/smoke-providers.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * `npm run smoke:providers` against the local simulators: the local stack points every
 * provider's base URL at its simulator and sets a placeholder key, so the script sees every key
 * "present" and runs each operation through the real adapters, as it does against the real
 * providers after a deploy.
 */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  resetTripoSandbox();
  setTripoTimeline(0, 1);
});

afterAll(async () => {
  resetTripoSandbox();
  await stack.stop();
});

const lines: string[] = [];
const options = { log: (line: string) => lines.push(line), pollIntervalMs: 0, jobTimeoutMs: 60_000 };

describe('npm run smoke:providers', () => {
  it('runs the cheapest call of every operation of every provider with a key, and passes', async () => {
    const results = await runSmoke(options);
    const summary = results.map(
      (result) => `${result.outcome} ${result.provider} ${result.operation}: ${result.detail}`,
    );
    expect(
      results.filter((result) => result.outcome !== 'pass'),
      summary.join('\n'),
    ).toEqual([]);
    expect(results.map((result) => `${result.provider} ${result.operation}`)).toEqual(
      expect.arrayContaining([
        'openai text-to-image',
        'openai image-to-image',
        'stability image-to-model',
        'recraft image-inpaint',
        'flux image-to-image',
        'tripo text-to-model',
        'tripo image-to-model',
        'tripo refine-model',
      ]),
    );
    expect(results).toHaveLength(18);
    // Tripo reports the credits a task consumed, and every simulator sends a request id of some kind.
    const tripo = results.find((result) => result.operation === 'text-to-model') as SmokeResult;
    expect(tripo.cost.join(' ')).toMatch(/credits_consumed=/);
    expect(tripo.requestIds.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.startsWith('PASS'))).toHaveLength(18);
  });

  it('reports a provider failure as FAIL with its error, and skips providers without a key', async () => {
    await stack.fault('openai', { outcome: 'model_shut_down' });
    const saved = process.env.TRIPO_API_KEY;
    delete process.env.TRIPO_API_KEY;
    try {
      const results = await runSmoke({ ...options, providers: ['openai', 'tripo'] });
      expect(results.map((result) => [result.provider, result.operation, result.outcome])).toEqual([
        ['openai', 'text-to-image', 'fail'],
        ['openai', 'image-to-image', 'pass'],
        ['tripo', 'text-to-model', 'skip'],
        ['tripo', 'image-to-model', 'skip'],
        ['tripo', 'refine-model', 'skip'],
      ]);
      expect(results[0]?.detail).toMatch(/^ProviderRejectedError: OpenAI does not serve the model/);
      expect(results[2]?.detail).toBe('TRIPO_API_KEY is not set');
    } finally {
      process.env.TRIPO_API_KEY = saved;
    }
  });
});

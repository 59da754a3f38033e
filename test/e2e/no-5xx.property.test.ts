import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuzzContext } from '../support/fuzz-bodies.ts';
import { fuzzRoute } from '../support/fuzz-property.ts';
import { startFuzzStack } from '../support/fuzz-stack.ts';
import type { TestStack } from '../support/local-stack.ts';

/**
 * Property: whatever a client sends to a generation route (test/support/fuzz-bodies.ts: random
 * JSON, plausible bodies with a field changed, `provider` that is not a string, nesting thousands
 * deep with an Idempotency-Key, numbers DynamoDB cannot store, bytes that are not UTF-8, bodies
 * over 1 MiB, odd headers, methods and paths), the answer is below 500 and, when an error, JSON
 * with a `detail`. 2,000 cases per route prefix: 300 over real HTTP, the rest given straight to
 * the gateway's handlers. Deterministic: fixed seeds.
 */

let stack: TestStack;
let context: FuzzContext;

beforeAll(async () => {
  ({ stack, context } = await startFuzzStack());
});

afterAll(async () => {
  // Accepted submits started real executions; they finish before the stack stops.
  await stack.runner.idle();
  await stack.stop();
});

describe.each([
  { family: 'generation', seed: 20261127 },
  { family: 'generate', seed: 20261128 },
] as const)('POST /$family/{operation}', ({ family, seed }) => {
  it('never answers 5xx over HTTP, and every error is JSON with a detail', async () => {
    const statuses = await fuzzRoute({ stack, context, family, via: 'http', numRuns: 300, seed });
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([202, 400, 401, 404]));
  });

  it('never answers 5xx when given straight to the handlers', async () => {
    const statuses = await fuzzRoute({
      stack,
      context,
      family,
      via: 'direct',
      numRuns: 1_700,
      seed: seed + 1,
    });
    // Some bodies were accepted (and stored), most refused: the generators reach both.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([202, 400, 401, 404, 413]));
  });
});

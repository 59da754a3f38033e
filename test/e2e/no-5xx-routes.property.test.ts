import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuzzContext } from '../support/fuzz-bodies.ts';
import { fuzzRoute } from '../support/fuzz-property.ts';
import { startFuzzStack } from '../support/fuzz-stack.ts';
import type { TestStack } from '../support/local-stack.ts';

/**
 * Property: no request to the status, registration, health or any unknown route (odd ids and
 * paths, query strings, methods, API keys and other headers, bodies that are not JSON or not
 * UTF-8, huge or deep metadata, numbers DynamoDB cannot store) gets a 5xx, and every error
 * answer is JSON with a `detail`; neither does raw HTTP that Node's parser refuses. 2,000 cases
 * per route (300 over real HTTP, the rest straight to the handlers). Fixed seeds.
 */

let stack: TestStack;
let context: FuzzContext;

beforeAll(async () => {
  ({ stack, context } = await startFuzzStack());
});

afterAll(async () => {
  await stack.runner.idle();
  await stack.stop();
});

describe.each([
  { family: 'status', route: 'GET /tasks/{jobId}/status', seed: 20261202, expected: [200, 401, 404, 405] },
  { family: 'register', route: 'POST /auth/register', seed: 20261203, expected: [201, 400, 401, 413] },
  { family: 'health', route: 'GET /health and /auth/health', seed: 20261204, expected: [200, 405] },
  { family: 'not-found', route: 'any other route', seed: 20261205, expected: [404, 405] },
] as const)('$route', ({ family, seed, expected }) => {
  it('never answers 5xx over HTTP, and every error is JSON with a detail', async () => {
    const statuses = await fuzzRoute({ stack, context, family, via: 'http', numRuns: 300, seed });
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([...expected]));
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
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([...expected]));
  });
});

describe('HTTP the parser refuses', () => {
  it('is answered with JSON and a detail, never 5xx', async () => {
    const statuses = await fuzzRoute({
      stack,
      context,
      family: 'protocol',
      via: 'http',
      numRuns: 500,
      seed: 20261206,
    });
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 405, 417, 431]));
  });
});

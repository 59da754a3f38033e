import fc from 'fast-check';
import { expect } from 'vitest';
import { describeRequest, type FuzzContext, fuzzRequests, type RouteFamily } from './fuzz-bodies.ts';
import { answerProblem, sendDirect, sendRaw } from './fuzz-client.ts';
import type { TestStack } from './local-stack.ts';

/**
 * The no-5xx property for one route family: every generated request gets an answer below 500,
 * and every error answer is JSON with a string `detail`. `via: 'http'` sends raw HTTP/1.1 to the
 * stack's port; `via: 'direct'` gives the same request to the gateway's handlers without a socket
 * (faster, so most cases go that way). Returns how many answers each status had, so a test can
 * also check that the requests reached the code they were meant for.
 */
export async function fuzzRoute(options: {
  stack: TestStack;
  context: FuzzContext;
  family: RouteFamily;
  via: 'http' | 'direct';
  numRuns: number;
  seed: number;
}): Promise<Map<number, number>> {
  const { stack, context, family, via, numRuns, seed } = options;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fuzzRequests(family, context), async (request) => {
      const answer =
        via === 'http' ? await sendRaw(stack.port, request) : await sendDirect(stack.url, request);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      expect(answerProblem(request, answer), describeRequest(request)).toBeUndefined();
    }),
    { numRuns, seed },
  );
  return statuses;
}

import fc from 'fast-check';
import {
  describeRequest,
  type FuzzRequest,
  fuzzRequests,
  ROUTE_FAMILIES,
  type RouteFamily,
} from '../test/support/fuzz-bodies.ts';
import { answerProblem, type FuzzAnswer, sendDirect, sendRaw } from '../test/support/fuzz-client.ts';
import { startFuzzStack } from '../test/support/fuzz-stack.ts';

/**
 * Fuzzes every route of a local stack with the property tests' generators and counts the
 * answers by status and by route. Expected: no 5xx, and every error answer a JSON `{"detail"}`.
 * Run: `npm run bench:fuzz` (`-- --cases 100000 --seed 1 --concurrency 8 --direct 0.8`).
 * `--direct` is the share of requests given to the gateway's handlers without a socket (faster);
 * the protocol family (raw HTTP the parser refuses) always goes over HTTP.
 */

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
  return value;
}

const CASES = option('cases', 100_000);
const SEED = option('seed', 20261202);
const CONCURRENCY = option('concurrency', 8);
const DIRECT_SHARE = option('direct', 0.8);
const BATCH = 500;

interface Tally {
  byStatus: Map<string, number>;
  byRoute: Map<RouteFamily, Map<string, number>>;
  problems: string[];
  problemCount: number;
  http: number;
  direct: number;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

async function pool<T>(
  items: T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  });
  await Promise.all(workers);
}

const { stack, context } = await startFuzzStack();
const tally: Tally = {
  byStatus: new Map(),
  byRoute: new Map(),
  problems: [],
  problemCount: 0,
  http: 0,
  direct: 0,
};
const perFamily = Math.ceil(CASES / ROUTE_FAMILIES.length);
const started = performance.now();
try {
  for (const [familyIndex, family] of ROUTE_FAMILIES.entries()) {
    const routeCounts = new Map<string, number>();
    tally.byRoute.set(family, routeCounts);
    const arbitrary = fuzzRequests(family, context);
    for (let done = 0, batch = 0; done < perFamily; done += BATCH, batch++) {
      const requests = fc.sample(arbitrary, {
        numRuns: Math.min(BATCH, perFamily - done),
        seed: SEED + familyIndex * 1_000_003 + batch,
      });
      await pool(requests, CONCURRENCY, async (request: FuzzRequest, index) => {
        // Deterministic split: every k-th request of a batch goes over HTTP.
        const overHttp = family === 'protocol' || (index % 100) / 100 >= DIRECT_SHARE;
        let answer: FuzzAnswer;
        try {
          answer = overHttp ? await sendRaw(stack.port, request) : await sendDirect(stack.url, request);
        } catch (error) {
          count(tally.byStatus, 'no answer');
          count(routeCounts, 'no answer');
          tally.problemCount++;
          if (tally.problems.length < 20) {
            tally.problems.push(
              `${family}: no answer (${(error as Error).message}) to ${describeRequest(request)}`,
            );
          }
          return;
        }
        if (overHttp) tally.http++;
        else tally.direct++;
        count(tally.byStatus, String(answer.status));
        count(routeCounts, String(answer.status));
        const problem = answerProblem(request, answer);
        if (problem) {
          tally.problemCount++;
          if (tally.problems.length < 20)
            tally.problems.push(`${family}: ${problem} for ${describeRequest(request)}`);
        }
      });
    }
  }
} finally {
  const requestSeconds = (performance.now() - started) / 1000;
  await stack.runner.idle();
  const totalSeconds = (performance.now() - started) / 1000;
  await stack.stop();

  const statuses = [...tally.byStatus.keys()].sort();
  const total = [...tally.byStatus.values()].reduce((sum, value) => sum + value, 0);
  const fiveHundreds = [...tally.byStatus.entries()]
    .filter(([status]) => status.startsWith('5'))
    .reduce((sum, [, value]) => sum + value, 0);
  console.log(`Fuzzed ${total} requests (${tally.http} over HTTP, ${tally.direct} direct), seed ${SEED}`);
  console.log(
    `Requests: ${requestSeconds.toFixed(1)} s; with started executions finished: ${totalSeconds.toFixed(1)} s`,
  );
  console.log('\nBy status:');
  for (const status of statuses) console.log(`  ${status.padEnd(10)} ${tally.byStatus.get(status)}`);
  console.log('\nBy route:');
  console.log(`  ${'route'.padEnd(12)} ${statuses.map((status) => status.padStart(9)).join('')}`);
  for (const [family, counts] of tally.byRoute) {
    console.log(
      `  ${family.padEnd(12)} ${statuses.map((status) => String(counts.get(status) ?? 0).padStart(9)).join('')}`,
    );
  }
  console.log(`\n5xx answers: ${fiveHundreds}`);
  console.log(
    `Answers breaking the rules (5xx, no answer, error without JSON detail): ${tally.problemCount}`,
  );
  for (const problem of tally.problems) console.log(`  - ${problem}`);
  if (tally.problemCount > 0) process.exitCode = 1;
}

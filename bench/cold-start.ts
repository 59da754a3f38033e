import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_FUNCTIONS } from '../functions/api/routes.ts';
import { sourceMapOptions } from '../infra/constructs/bff-function.ts';
import { bundleFunction } from '../infra/constructs/bundling.ts';

/**
 * Cold-start module cost of each API Lambda, the part of a cold start this code controls: each
 * handler is bundled exactly as the CDK stack bundles it (`bundleFunction`, shared with the stack
 * and the bundle tests: CommonJS, minified, node22, AWS SDK bundled but for the credential
 * sources it imports on demand, which are built beside it; source map), then loaded with
 * `require`, as Lambda loads a CommonJS handler, in fresh Node 22 processes with the Node options
 * the stack gives an API function (`sourceMapOptions`: none, the API functions map the stacks they
 * log themselves); the figure is the median time to evaluate the bundle. The targets take turns
 * run by run, so a busy (shared) machine slows them alike. Baseline in the same run: a bundle of
 * an empty handler (Node's own module loading); and, as a floor for every function that reads the
 * table, a handler that only reads one item with the AWS SDK's DynamoDB client
 * (bench/fixtures/dynamodb-only.ts). Beside the wall time, the importing process's CPU time over
 * the same span: on a busy shared machine the wall time mostly measures waiting for a core, the
 * CPU time much less.
 * Run: `npm run bench:cold-start` (`-- --runs 9` to change the count).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const runsArgument = process.argv.indexOf('--runs');
const RUNS = runsArgument > 0 ? Number(process.argv[runsArgument + 1]) : 7;
/** NODE_OPTIONS of a deployed API function. */
const NODE_FLAGS = (sourceMapOptions('api-gateway').NODE_OPTIONS ?? '').split(' ').filter(Boolean);

async function bundle(entry: string, outdir: string): Promise<number> {
  await bundleFunction(entry, outdir);
  return statSync(join(outdir, 'index.js')).size;
}

/**
 * One import in a fresh process: wall time, and the process's CPU time (user + system) over the
 * same span, which other work on a shared machine inflates less than the wall time.
 */
function importMs(file: string): { wall: number; cpu: number } {
  const script = `const c = process.cpuUsage(); const t = process.hrtime.bigint(); require(${JSON.stringify(file)}); const wall = Number(process.hrtime.bigint() - t) / 1e6; const u = process.cpuUsage(c); process.stdout.write(wall + ' ' + (u.user + u.system) / 1000);`;
  const result = spawnSync(NODE, [...NODE_FLAGS, '-e', script], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`import of ${file} failed: ${result.stderr}`);
  const [wall, cpu] = result.stdout.split(' ').map(Number);
  return { wall: wall ?? Number.NaN, cpu: cpu ?? Number.NaN };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const work = mkdtempSync(join(tmpdir(), 'makeit3d-cold-start-'));
try {
  const baselineEntry = join(work, 'baseline.ts');
  writeFileSync(baselineEntry, 'export const handler = async () => ({ statusCode: 200 });\n');
  const targets = [
    { name: 'baseline (empty handler)', entry: baselineEntry },
    { name: 'DynamoDB client alone', entry: join(ROOT, 'bench', 'fixtures', 'dynamodb-only.ts') },
    ...API_FUNCTIONS.map((name) => ({ name, entry: join(ROOT, 'functions', 'api', `${name}.ts`) })),
  ];
  const bundles: { name: string; outfile: string; bytes: number; times: number[]; cpu: number[] }[] = [];
  for (const target of targets) {
    const outdir = join(work, target.name.replace(/\W+/g, '-'));
    mkdirSync(outdir, { recursive: true });
    const outfile = join(outdir, 'index.js');
    bundles.push({
      name: target.name,
      outfile,
      bytes: await bundle(target.entry, outdir),
      times: [],
      cpu: [],
    });
  }
  // Round robin: every run imports each bundle once, so load on the machine hits all alike.
  for (let run = 0; run < RUNS; run++) {
    for (const entry of bundles) {
      const { wall, cpu } = importMs(entry.outfile);
      entry.times.push(wall);
      entry.cpu.push(cpu);
    }
  }
  const rows = bundles.map((entry) => ({
    name: entry.name,
    kib: Math.round(entry.bytes / 1024),
    ms: median(entry.times),
    cpu: median(entry.cpu),
  }));
  const baseline = rows[0]?.ms ?? Number.NaN;
  const baselineCpu = rows[0]?.cpu ?? Number.NaN;
  console.log(
    `Module evaluation at cold start, median of ${RUNS} fresh processes (Node ${process.versions.node})\n`,
  );
  console.log(
    `${'function'.padEnd(28)}${'bundle KiB'.padStart(12)}${'import ms'.padStart(12)}${'over baseline'.padStart(22)}${'CPU ms'.padStart(10)}${'CPU over baseline'.padStart(20)}`,
  );
  for (const row of rows) {
    const over =
      row === rows[0] ? '' : `+${(row.ms - baseline).toFixed(0)} ms (x${(row.ms / baseline).toFixed(1)})`;
    const cpuOver = row === rows[0] ? '' : `+${(row.cpu - baselineCpu).toFixed(0)} ms`;
    console.log(
      `${row.name.padEnd(28)}${String(row.kib).padStart(12)}${row.ms.toFixed(0).padStart(12)}${over.padStart(22)}${row.cpu.toFixed(0).padStart(10)}${cpuOver.padStart(20)}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { API_FUNCTIONS } from '../functions/api/routes.ts';

/**
 * Cold-start module cost of each API Lambda, the part of a cold start this code controls: each
 * handler is bundled the way the CDK stack bundles it (esbuild, ESM, minified, node22), then
 * imported in a fresh Node 22 process several times; the figure is the median time to evaluate
 * the bundle. Baseline in the same run: a bundle of an empty handler (Node's own start-up and
 * ESM loading). Run: `npm run bench:cold-start` (`-- --runs 9` to change the count).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const runsArgument = process.argv.indexOf('--runs');
const RUNS = runsArgument > 0 ? Number(process.argv[runsArgument + 1]) : 7;

// The banner the stack uses (infra/constructs/bff-function.ts).
const banner =
  "import { createRequire as __bffCreateRequire } from 'node:module'; const require = __bffCreateRequire(import.meta.url);";

async function bundle(entry: string, outfile: string): Promise<number> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    banner: { js: banner },
    logLevel: 'error',
  });
  return statSync(outfile).size;
}

function importMs(file: string): number {
  const script = `const t = process.hrtime.bigint(); await import(${JSON.stringify(file)}); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  const result = spawnSync(NODE, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`import of ${file} failed: ${result.stderr}`);
  return Number(result.stdout);
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
    ...API_FUNCTIONS.map((name) => ({ name, entry: join(ROOT, 'functions', 'api', `${name}.ts`) })),
  ];
  const rows: { name: string; kib: number; ms: number }[] = [];
  for (const target of targets) {
    const outdir = join(work, target.name.replace(/\W+/g, '-'));
    mkdirSync(outdir, { recursive: true });
    const outfile = join(outdir, 'index.mjs');
    const bytes = await bundle(target.entry, outfile);
    const times = Array.from({ length: RUNS }, () => importMs(outfile));
    rows.push({ name: target.name, kib: Math.round(bytes / 1024), ms: median(times) });
  }
  const baseline = rows[0]?.ms ?? Number.NaN;
  console.log(
    `Module evaluation at cold start, median of ${RUNS} fresh processes (Node ${process.versions.node})\n`,
  );
  console.log(
    `${'function'.padEnd(28)}${'bundle KiB'.padStart(12)}${'import ms'.padStart(12)}${'over baseline'.padStart(16)}`,
  );
  for (const row of rows) {
    const over = row === rows[0] ? '' : `+${(row.ms - baseline).toFixed(0)} ms`;
    console.log(
      `${row.name.padEnd(28)}${String(row.kib).padStart(12)}${row.ms.toFixed(0).padStart(12)}${over.padStart(16)}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

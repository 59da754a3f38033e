import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { type BundleBaseOptions, buildOnDemandModules, ON_DEMAND_MODULES } from './on-demand-modules.ts';

/** The repository root: esbuild's project root, and where `functions/` and the lock file live. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The bundles are CommonJS, so `import.meta.url` (which the image codecs and the docs page use to
 * find the files copied beside their bundle) is given its value from `__filename` once, at the
 * top of the bundle. The banner comes before esbuild's own "use strict", so it states it itself:
 * the bundle keeps the strict mode its ES module sources were written for.
 */
const IMPORT_META_URL = '__bffImportMetaUrl';
const IMPORT_META_URL_BANNER = `"use strict";var ${IMPORT_META_URL}=require("node:url").pathToFileURL(__filename).href;`;

/**
 * How every function is bundled, in one place: the stack hands these to NodejsFunction
 * (bff-function.ts), and bench/cold-start.ts and the bundle tests build with `bundleFunction`, so
 * the sizes and times they measure are the deployed ones. This module loads no CDK code: the
 * stack runs it once per function after esbuild (build-on-demand-modules.ts).
 */
export const BUNDLE_SETTINGS = {
  target: 'node22',
  // CommonJS, which Lambda loads with `require`: each `node:` built-in is then required where the
  // module that uses it is first evaluated, so the credential providers' child_process, fs and
  // http2 load only if they run, and no built-in pays for an ES module facade (Node evaluates
  // every export of a built-in imported from ESM: `node:http`'s lazy WebSocket getter alone
  // loads undici). Measured by `npm run bench:cold-start`; the README has the figures.
  format: 'cjs',
  // Dependencies' ES module builds (esbuild converts them): tree-shaken, and smaller and faster
  // to evaluate than their CommonJS builds (the AWS SDK's dist-cjs bundle took longer to load).
  mainFields: ['module', 'main'],
  banner: IMPORT_META_URL_BANNER,
  define: { 'import.meta.url': IMPORT_META_URL },
  minify: true,
  // Function and class names survive minification: logged stacks name the functions of the
  // sources, and dependencies read `constructor.name` at run time: the AWS SDK to tell its no-op
  // logger apart (@aws-sdk/credential-provider-node `defaultProvider.js`, @smithy/core
  // `schemaDeserializationMiddleware.js`, @aws-sdk/core `middleware-user-agent/configurations.js`),
  // zod to name the type it received in a validation message (`zod/v4/core/util.js`). Our errors
  // name themselves (`name`, errors.ts: the state machine's Retry/Catch vocabulary). ≈ 4 ms of
  // get-task-status's cold start (README, Benchmarks).
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  // The AWS SDK is bundled (the version the tests ran against, rather than whichever the runtime
  // ships), so it counts against each bundle's budget; only the credential sources that the SDK
  // imports on demand are left out, and bundled on their own beside `index.js`
  // (on-demand-modules.ts explains why, and how).
  externalModules: [...ON_DEMAND_MODULES] as string[],
} as const;

/** The settings a function's bundle and its on-demand modules share. */
function baseOptions(): BundleBaseOptions {
  return {
    format: BUNDLE_SETTINGS.format,
    target: BUNDLE_SETTINGS.target,
    mainFields: [...BUNDLE_SETTINGS.mainFields],
    banner: { js: BUNDLE_SETTINGS.banner },
    define: { ...BUNDLE_SETTINGS.define },
    minify: BUNDLE_SETTINGS.minify,
    keepNames: BUNDLE_SETTINGS.keepNames,
    sourcemap: BUNDLE_SETTINGS.sourceMap,
    sourcesContent: BUNDLE_SETTINGS.sourcesContent,
    absWorkingDir: REPO_ROOT,
  };
}

/**
 * esbuild's options for bundling `entry` to `outfile` exactly as NodejsFunction does with
 * BUNDLE_SETTINGS (CommonJS, `index.js` beside its source map), plus a metafile for the budget test.
 */
export function esbuildOptions(entry: string, outfile: string): BuildOptions & { metafile: true } {
  return {
    ...baseOptions(),
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    external: [...BUNDLE_SETTINGS.externalModules],
    metafile: true,
    logLevel: 'error',
  };
}

/**
 * A function's deployed files, as the stack builds them: `entry` bundled to
 * `<outputDir>/index.js`, then the on-demand modules it names beside it. Answers esbuild's
 * metafile of `index.js`.
 */
export async function bundleFunction(entry: string, outputDir: string): Promise<Metafile> {
  const result = await build(esbuildOptions(entry, path.join(outputDir, 'index.js')));
  await completeBundle(outputDir);
  return result.metafile;
}

/** What the stack runs after NodejsFunction's esbuild: the on-demand modules beside `index.js`. */
export function completeBundle(outputDir: string): Promise<void> {
  return buildOnDemandModules(outputDir, baseOptions());
}

/**
 * The files of `candidates` (absolute paths) that a bundle needs beside it: those whose file name
 * its code names (the image codecs name each .wasm they load), so a function that never decodes
 * an image carries no .wasm. The stack applies the same rule with grep after bundling.
 */
export function filesNamedIn(bundleText: string, candidates: readonly string[]): string[] {
  return candidates.filter((file) => bundleText.includes(path.basename(file)));
}

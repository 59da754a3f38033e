import { completeBundle } from './bundling.ts';

/**
 * `node --import tsx infra/constructs/build-on-demand-modules.ts <bundle directory>`: the stack's
 * step after NodejsFunction's esbuild (bff-function.ts), which builds the on-demand modules that
 * the bundle's `index.js` names beside it (on-demand-modules.ts).
 */
const outputDir = process.argv[2];
if (!outputDir) {
  console.error('usage: build-on-demand-modules.ts <directory holding index.js>');
  process.exit(2);
}
await completeBundle(outputDir);

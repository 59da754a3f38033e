import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces that point into the TypeScript sources, with the source map read only when an
 * error is logged. The API functions run without Node's `--enable-source-maps`, which reads and
 * parses the bundle's whole map at every cold start (README, Benchmarks); they catch every error
 * and log its stack through here, so their logs still name `functions/…/*.ts:line:column`.
 * Where Node maps stacks itself (the workflow functions, whose errors go to the Lambda runtime),
 * or outside a bundle (the local stack and the tests run the sources), stacks pass unchanged.
 */

/** The bundle this module is part of (in a bundle, esbuild gives `import.meta.url` the bundle's own URL). */
const bundleFile = fileURLToPath(import.meta.url);

/** The bundle's map once read; null when there is none to read or Node maps stacks itself. */
let bundleMap: SourceMap | null | undefined;

function sourceMap(): SourceMap | null {
  if (bundleMap !== undefined) return bundleMap;
  bundleMap = null;
  if (process.sourceMapsEnabled) return bundleMap;
  try {
    bundleMap = new SourceMap(JSON.parse(readFileSync(`${bundleFile}.map`, 'utf8')) as SourceMapPayload);
  } catch {
    // No map beside this file: the sources are running, and their stacks need no mapping.
  }
  return bundleMap;
}

/** `<bundle>:line:column` in a stack frame, as V8 writes it. */
const bundleFrame = new RegExp(
  `(?:file://)?${bundleFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`,
  'g',
);

/**
 * A source path from the map (relative to the bundle's directory, so it starts with `../` as far
 * as the bundler's working directory) as the repository names it: `functions/core/http.ts`.
 */
function repositoryPath(source: string): string {
  return source.replace(/^(?:\.\.\/)+/, '').replace(/^file:\/\//, '');
}

/** `stack` with each position in the bundle replaced by its source position, when the bundle has a map. */
export function sourceMappedStack(stack: string): string {
  const map = sourceMap();
  if (!map) return stack;
  return stack.replace(bundleFrame, (frame, line: string, column: string) => {
    const origin = map.findOrigin(Number(line), Number(column));
    if (!('fileName' in origin)) return frame;
    return `${repositoryPath(origin.fileName)}:${origin.lineNumber}:${origin.columnNumber}`;
  });
}

/** An error's stack for a log line, mapped to the sources; undefined for a thrown non-Error. */
export function errorStack(error: unknown): string | undefined {
  return error instanceof Error && error.stack ? sourceMappedStack(error.stack) : undefined;
}

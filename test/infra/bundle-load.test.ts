import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wasmAssetFiles } from '../../functions/core/images/codecs.ts';
import { bundleFunction, filesNamedIn, REPO_ROOT } from '../../infra/constructs/bundling.ts';

/**
 * The deployed bundles are CommonJS (infra/constructs/bff-function.ts, BUNDLE_SETTINGS), which
 * Lambda's Node.js runtime loads with `require`. Each bundle here is built exactly as the stack
 * builds it and loaded the same way in a fresh Node 22 process (no package.json beside it, as in
 * a Lambda asset), then its handler is invoked with an API Gateway event.
 */

const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
const work = mkdtempSync(join(tmpdir(), 'makeit3d-bundle-load-'));

interface Invocation {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

function outfileOf(name: string): string {
  return join(work, name.replace(/\W+/g, '-'), 'index.js');
}

/**
 * Requires the bundle in a new process and invokes `handler(event)`, as the Lambda runtime does;
 * the handler's answer, as JSON.
 */
function run(name: string, event: Record<string, unknown>, nodeFlags: string[] = []): unknown {
  const script = `const { handler } = require(${JSON.stringify(outfileOf(name))});
Promise.resolve(handler(${JSON.stringify(event)}, { awsRequestId: 'bundle-load-test', getRemainingTimeInMillis: () => 3000 }))
  .then((result) => process.stdout.write(JSON.stringify(result)), (error) => { console.error(error); process.exit(1); });`;
  const result = spawnSync(NODE, [...nodeFlags, '-e', script], {
    cwd: work,
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function invoke(name: string, event: Record<string, unknown>): Invocation {
  return run(name, event) as Invocation;
}

function getEvent(path: string, pathParameters: Record<string, string> = {}): Record<string, unknown> {
  return {
    version: '2.0',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.com' },
    pathParameters,
    requestContext: { requestId: 'bundle-load-test', http: { method: 'GET', path } },
  };
}

const NAMES = ['api/health', 'api/get-task-status', 'api/api-docs'];
/** A fixture that answers the logged stack of an error it throws at a known line. */
const THROWS = 'test/fixtures/bundles/throws.ts';
/** A fixture that encodes and decodes with every WASM codec. */
const CODECS = 'test/fixtures/bundles/codecs.ts';

beforeAll(async () => {
  for (const name of NAMES)
    await bundleFunction(join(REPO_ROOT, 'functions', `${name}.ts`), dirname(outfileOf(name)));
  await bundleFunction(join(REPO_ROOT, THROWS), dirname(outfileOf(THROWS)));
  await bundleFunction(join(REPO_ROOT, CODECS), dirname(outfileOf(CODECS)));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bundles load as Lambda loads them (require)', () => {
  it('each bundle is CommonJS in strict mode', () => {
    for (const name of NAMES) {
      const text = readFileSync(outfileOf(name), 'utf8');
      expect(text.startsWith('"use strict";'), name).toBe(true);
      expect(text, name).not.toMatch(/\bimport\.meta\b/);
      expect(text, name).not.toMatch(/^\s*(import|export)\s[^;]*from\s*["']/m);
    }
  });

  it('health answers', () => {
    const answer = invoke('api/health', getEvent('/health'));
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'healthy' });
  });

  it('get-task-status runs its auth (no key: 401, before any AWS call)', () => {
    const answer = invoke('api/get-task-status', getEvent('/tasks/abc/status', { jobId: 'abc' }));
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body)).toHaveProperty('detail');
  });

  it("api-docs reads a viewer file from beside its bundle (import.meta.url is the bundle's own URL)", () => {
    // A file of our own where the stack copies the viewer's files: only a module that resolves its
    // own location to the bundle's directory can answer with these bytes.
    const marker = Buffer.from('not a real favicon: the copy beside the bundle');
    writeFileSync(join(dirname(outfileOf('api/api-docs')), 'favicon-32x32.png'), marker);
    const answer = invoke(
      'api/api-docs',
      getEvent('/docs/favicon-32x32.png', { asset: 'favicon-32x32.png' }),
    );
    expect(answer.statusCode).toBe(200);
    const body = answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : Buffer.from(answer.body);
    expect(body.equals(marker)).toBe(true);
  });
});

describe('the image codecs in a bundle', () => {
  it('load their .wasm from beside the bundle (where the stack copies them) and round-trip', () => {
    const outfile = outfileOf(CODECS);
    const copied = filesNamedIn(readFileSync(outfile, 'utf8'), wasmAssetFiles());
    expect(copied.length).toBeGreaterThan(0);
    for (const file of copied) copyFileSync(file, join(dirname(outfile), basename(file)));
    try {
      const answers = run(CODECS, {});
      const size = { width: 48, height: 32 };
      expect(answers).toMatchObject({ jpeg: size, png: size, webp: size });
    } finally {
      for (const file of copied) rmSync(join(dirname(outfile), basename(file)));
    }
  });

  it('fail as a deployment fault when the .wasm is not beside the bundle', () => {
    // Outside the repository, node_modules is out of reach too: only the copies could be found.
    expect(() => run(CODECS, {})).toThrow(/WasmAssetError/);
  });
});

describe('logged stacks point into the sources without --enable-source-maps', () => {
  it("maps the bundle's positions with its map, read when the error is logged", () => {
    const stack = String(run(THROWS, {}));
    expect(stack).toMatch(/^Error: boom at line 14\n/);
    // The throw is at line 14, column 9 of the fixture; its caller at line 6.
    expect(stack).toContain(`${THROWS}:14:9`);
    expect(stack).toContain(`${THROWS}:6:5`);
    expect(stack).not.toContain(outfileOf(THROWS));
  });

  it("with Node's own mapping (the workflow functions' flag), stacks still name the sources", () => {
    const stack = String(run(THROWS, {}, ['--enable-source-maps']));
    expect(stack).toContain('test/fixtures/bundles/throws.ts:14:9');
  });

  it('leaves the stack unchanged when the bundle has no map beside it', () => {
    const outfile = outfileOf(THROWS);
    rmSync(`${outfile}.map`);
    const stack = String(run(THROWS, {}));
    expect(stack).toContain(`${outfile}:`);
    expect(stack).not.toContain(`${THROWS}:`);
  });
});

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTIONS } from '../../functions/api/routes.ts';
import { wasmAssetFiles } from '../../functions/core/images/codecs.ts';
import { docsAssetFiles } from '../../functions/core/openapi/docs-page.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { esbuildOptions, filesNamedIn, REPO_ROOT } from '../../infra/constructs/bundling.ts';
import { ON_DEMAND_MODULES, onDemandModulesNamedIn } from '../../infra/constructs/on-demand-modules.ts';
import { OPS_FUNCTIONS, RECONCILE_FUNCTION } from '../../infra/stacks/function-specs.ts';

/**
 * Every function bundled exactly as the stack bundles it (infra/constructs/bff-function.ts
 * `esbuildOptions`), held to a size budget, and the README's claims about what a bundle contains
 * checked against esbuild's metafile. Sizes are deterministic for a lock file; times are not, so
 * bench/cold-start.ts reports them and nothing here asserts one.
 */

const KIB = 1024;

/**
 * Budgets in KiB of `index.js`: measured 2026-12-02 plus modest headroom. health and not-found
 * (50 KiB), get-task-status (600 KiB) and submit-generation (1 MiB) meet the targets. Every
 * function with an AWS SDK client leaves out the credential sources the SDK imports on demand
 * (infra/constructs/on-demand-modules.ts: ≈ 135 KiB each). Each workflow function carries only
 * the state it runs (functions/core/workflow/*.ts): the states that record a task read the request
 * side of the catalogue (389–673 KiB), process-image the downscale code (2,435 KiB), run-provider
 * the synchronous providers and the image decoders (1,244 KiB), submit- and poll-provider-job the
 * asynchronous providers (584 and 813 KiB). Lower a budget when a bundle shrinks.
 */
const BUDGET_KIB: Record<string, number> = {
  'api/health': 50,
  'api/not-found': 50,
  // The request schemas, zod's JSON Schema conversion and the logger (180 KiB); the viewer's files are copied beside it.
  'api/api-docs': 220,
  'api/get-task-status': 360,
  'api/register-api-key': 430,
  'api/submit-generation': 530,
  // Signature checks, the webhook items and the SFN client's SendTaskSuccess.
  'api/provider-webhook': 380,
  'workflow/mark-task-processing': 470,
  'workflow/run-provider': 1_300,
  'workflow/process-image': 2_600,
  'workflow/submit-provider-job': 640,
  'workflow/poll-provider-job': 880,
  'workflow/await-provider-callback': 410,
  'workflow/complete-task': 430,
  'workflow/fail-task': 430,
  'workflow/record-result-rows': 700,
  [`workflow/${RECONCILE_FUNCTION}`]: 710,
  ...Object.fromEntries(OPS_FUNCTIONS.map((name) => [`ops/${name}`, 740])),
};

/** The request side of the operation catalogue, which the submit path is meant to load alone. */
const REQUEST_VALIDATION = 'functions/core/operations/request-validation.ts';

interface Bundle {
  bytes: number;
  text: string;
  /** Input paths (relative to the repository) that put bytes into the bundle. */
  inputs: string[];
  metafile: Metafile;
}

const work = mkdtempSync(join(tmpdir(), 'makeit3d-bundles-'));
const bundles = new Map<string, Bundle>();

async function bundle(source: string): Promise<Bundle> {
  const outfile = join(work, source.replace(/\W+/g, '-'), 'index.js');
  const result = await build(esbuildOptions(join(REPO_ROOT, source), outfile));
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('index.js'));
  if (!output) throw new Error(`esbuild wrote no index.js for ${source}`);
  const inputs = Object.entries((output[1] as Metafile['outputs'][string]).inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
  return {
    bytes: statSync(outfile).size,
    text: readFileSync(outfile, 'utf8'),
    inputs,
    metafile: result.metafile,
  };
}

function bundled(name: string): Bundle {
  const found = bundles.get(name);
  if (!found) throw new Error(`${name} was not bundled`);
  return found;
}

/** The npm packages (and own modules) whose code is in a bundle. */
function contains(name: string, pattern: RegExp): string[] {
  return bundled(name).inputs.filter((path) => pattern.test(path));
}

const HEAVY_STACK = /node_modules\/(@middy|zod|@aws-sdk|@smithy|@supabase|openai|jimp|@jimp|@jsquash)\//;
const PROVIDER_RUN_CODE =
  /node_modules\/(openai|jimp|@jimp|@jsquash|@cornerstonejs)\/|functions\/core\/(images\/codecs|providers\/\w+\/(client|operations|input-image))\.ts/;
/** A provider's own run code (its client, runnable operations, input checks) or the OpenAI SDK. */
const PROVIDER_CLIENT_CODE =
  /node_modules\/openai\/|functions\/core\/(operations\/catalogue|providers\/\w+\/(client|operations|input-image))\.ts/;

/** Workflow states that only record a task: they need the catalogue's metadata, never its run code. */
const METADATA_ONLY = [
  'workflow/mark-task-processing',
  'workflow/complete-task',
  'workflow/fail-task',
  'workflow/record-result-rows',
  `workflow/${RECONCILE_FUNCTION}`,
  ...OPS_FUNCTIONS.map((name) => `ops/${name}`),
];

beforeAll(async () => {
  const sources = [...Object.keys(BUDGET_KIB).map((name) => `functions/${name}.ts`), REQUEST_VALIDATION];
  for (const source of sources) {
    bundles.set(source.replace(/^functions\/|\.ts$/g, ''), await bundle(source));
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bundle budgets', () => {
  it('states a budget for every function the stack deploys', () => {
    const deployed = [
      ...API_FUNCTIONS.map((name) => `api/${name}`),
      ...Object.values(WORKFLOW_FUNCTIONS).map((name) => `workflow/${name}`),
      `workflow/${RECONCILE_FUNCTION}`,
      ...OPS_FUNCTIONS.map((name) => `ops/${name}`),
    ].sort();
    expect(Object.keys(BUDGET_KIB).sort()).toEqual(deployed);
  });

  it.each(Object.entries(BUDGET_KIB))('%s stays within %i KiB', (name, budget) => {
    const kib = bundled(name).bytes / KIB;
    expect(kib, `${name} is ${kib.toFixed(0)} KiB`).toBeLessThanOrEqual(budget);
  });
});

describe('what the README says a bundle contains', () => {
  it.each(['api/health', 'api/not-found'])(
    '%s carries no middy, zod, AWS SDK, Supabase or image code',
    (name) => {
      expect(contains(name, HEAVY_STACK)).toEqual([]);
      expect(contains(name, /functions\/core\/(http|auth\/|storage\/|store\/|config)/)).toEqual([]);
    },
  );

  it('the request side of the catalogue carries every provider schema and no provider run code', () => {
    expect(contains('core/operations/request-validation', PROVIDER_RUN_CODE)).toEqual([]);
    for (const provider of ['openai', 'stability', 'recraft', 'flux']) {
      expect(
        contains('core/operations/request-validation', new RegExp(`providers/${provider}/schemas\\.ts$`)),
      ).toHaveLength(1);
    }
    expect(contains('core/operations/request-validation', /providers\/tripo\/requests\.ts$/)).toHaveLength(1);
  });

  it('the AWS SDK is bundled, as the stack bundles it, but for the credential sources it imports on demand', () => {
    expect(
      contains('api/get-task-status', /node_modules\/@aws-sdk\/client-dynamodb\//).length,
    ).toBeGreaterThan(0);
    expect(
      contains('api/get-task-status', /node_modules\/@aws-sdk\/credential-provider-node\//).length,
    ).toBeGreaterThan(0);
    expect(
      contains(
        'api/get-task-status',
        /node_modules\/(@aws-sdk\/nested-clients|@aws-sdk\/credential-provider-(ini|sso|process|web-identity|http)|@smithy\/credential-provider-imds)\//,
      ),
    ).toEqual([]);
    expect(onDemandModulesNamedIn(bundled('api/get-task-status').text)).toEqual([...ON_DEMAND_MODULES]);
  });

  it('every function reaches the modules it leaves out through import() alone, and leaves out nothing else', () => {
    for (const name of Object.keys(BUDGET_KIB)) {
      const leftOut = Object.values(bundled(name).metafile.inputs).flatMap((input) =>
        // `<runtime>`: esbuild's own helpers.
        input.imports.filter(
          (imported) => imported.external && !isBuiltin(imported.path) && imported.path !== '<runtime>',
        ),
      );
      for (const imported of leftOut) {
        const label = `${name}: ${imported.path} (${imported.kind})`;
        if ((ON_DEMAND_MODULES as readonly string[]).includes(imported.path)) {
          expect(imported.kind, label).toBe('dynamic-import');
        } else {
          // Besides those, esbuild leaves out only what is not installed: a dependency's optional
          // `require` inside a try block (debug's supports-color).
          expect(existsSync(join(REPO_ROOT, 'node_modules', imported.path)), label).toBe(false);
        }
      }
    }
    expect(onDemandModulesNamedIn(bundled('api/health').text)).toEqual([]);
  });

  it('each on-demand module is installed once, so the copy built from the repository root is the one the SDK imports', () => {
    const root = join(REPO_ROOT, 'node_modules');
    const packages = readdirSync(root).flatMap((entry) =>
      entry.startsWith('@')
        ? readdirSync(join(root, entry)).map((name) => join(root, entry, name))
        : [join(root, entry)],
    );
    for (const name of ON_DEMAND_MODULES) {
      expect(existsSync(join(root, name, 'package.json')), name).toBe(true);
      const nested = packages.filter((dir) => existsSync(join(dir, 'node_modules', name)));
      expect(nested, name).toEqual([]);
    }
  });

  it('submit-generation validates with the request side only: no provider run code, jimp or OpenAI SDK', () => {
    expect(contains('api/submit-generation', PROVIDER_RUN_CODE)).toEqual([]);
  });

  it.each(['api/get-task-status', 'api/submit-generation'])(
    '%s carries no registration body schema (only register-api-key and api-docs need it)',
    (name) => {
      expect(contains(name, /functions\/core\/auth\/register-request\.ts$/)).toEqual([]);
      expect(contains(name, /functions\/core\/auth\/tenant-types\.ts$/)).toHaveLength(1);
    },
  );

  it('get-task-status builds result URLs without supabase-js', () => {
    expect(contains('api/get-task-status', /node_modules\/@supabase\//)).toEqual([]);
  });

  it("submit-generation writes its pending row with supabase-js's PostgREST client alone", () => {
    expect(
      contains('api/submit-generation', /node_modules\/@supabase\/postgrest-js\//).length,
    ).toBeGreaterThan(0);
    expect(
      contains(
        'api/submit-generation',
        /node_modules\/@supabase\/(supabase-js|auth-js|realtime-js|storage-js|phoenix)\//,
      ),
    ).toEqual([]);
  });

  it.each(['api/health', 'api/not-found', 'api/get-task-status'])(
    "%s loads none of zod's method-chaining API (zod/mini only, where it validates at all)",
    (name) => {
      expect(contains(name, /node_modules\/zod\/v4\/classic\//)).toEqual([]);
    },
  );

  it.each(['api/get-task-status', 'api/submit-generation'])(
    '%s reaches the Secrets Manager client only through a dynamic import (evaluated on the first secret read)',
    (name) => {
      const importers = Object.entries(bundled(name).metafile.inputs).flatMap(([path, input]) =>
        input.imports
          .filter((imported) =>
            /client-secrets-manager|functions\/core\/secrets-manager\.ts$/.test(imported.path),
          )
          .map((imported) => `${path} ${imported.kind}`),
      );
      expect(importers).toContain('functions/core/config.ts dynamic-import');
      expect(
        importers.filter((line) => line.startsWith('functions/') && !line.endsWith('dynamic-import')),
      ).toEqual([expect.stringMatching(/^functions\/core\/secrets-manager\.ts /)]);
    },
  );

  it('the API bundles and the request side of the catalogue name no codec .wasm file', () => {
    const names = [...API_FUNCTIONS.map((name) => `api/${name}`), 'core/operations/request-validation'];
    for (const name of names) {
      expect(filesNamedIn(bundled(name).text, wasmAssetFiles()), name).toEqual([]);
    }
  });

  it.each(METADATA_ONLY)(
    '%s reads the request side of the catalogue only: no provider client, OpenAI SDK, jimp, codec or .wasm',
    (name) => {
      expect(contains(name, PROVIDER_RUN_CODE)).toEqual([]);
      expect(contains(name, /functions\/core\/operations\/(catalogue|downscale)\.ts$/)).toEqual([]);
      expect(filesNamedIn(bundled(name).text, wasmAssetFiles()), name).toEqual([]);
      // The check can fail: the metadata does come from the request side.
      expect(contains(name, /functions\/core\/operations\/request-catalogue\.ts$/)).toHaveLength(1);
    },
  );

  it('process-image carries the downscale code and no provider client', () => {
    expect(contains('workflow/process-image', PROVIDER_CLIENT_CODE)).toEqual([]);
    expect(contains('workflow/process-image', /functions\/core\/operations\/downscale\.ts$/)).toHaveLength(1);
  });

  it('run-provider carries the synchronous providers and the image decoders only: no Tripo or Flux client, jimp or encoder', () => {
    for (const provider of ['openai', 'stability', 'recraft']) {
      expect(
        contains('workflow/run-provider', new RegExp(`providers/${provider}/operations\\.ts$`)),
      ).toHaveLength(1);
    }
    expect(
      contains(
        'workflow/run-provider',
        /providers\/(tripo|flux)\/(client|operations)\.ts$|node_modules\/(jimp|@jimp)\//,
      ),
    ).toEqual([]);
    expect(
      contains(
        'workflow/run-provider',
        /functions\/core\/(images\/codecs|operations\/(catalogue|downscale))\.ts$/,
      ),
    ).toEqual([]);
    const named = filesNamedIn(bundled('workflow/run-provider').text, wasmAssetFiles()).map((file) =>
      basename(file),
    );
    expect(named.sort()).toEqual(['libjpegturbowasm.wasm', 'squoosh_png_bg.wasm', 'webp_dec.wasm']);
  });

  it.each(['workflow/submit-provider-job', 'workflow/poll-provider-job'])(
    '%s carries the asynchronous providers only: no OpenAI SDK, other provider, codec or .wasm',
    (name) => {
      for (const provider of ['tripo', 'flux']) {
        expect(contains(name, new RegExp(`providers/${provider}/operations\\.ts$`))).toHaveLength(1);
      }
      expect(
        contains(name, /providers\/(openai|stability|recraft)\/(client|operations|input-image)\.ts$/),
      ).toEqual([]);
      expect(contains(name, /node_modules\/(openai|jimp|@jimp|@jsquash|@cornerstonejs)\//)).toEqual([]);
      expect(filesNamedIn(bundled(name).text, wasmAssetFiles()), name).toEqual([]);
    },
  );

  it('process-image names every codec .wasm file, so all of them are copied beside it', () => {
    expect(filesNamedIn(bundled('workflow/process-image').text, wasmAssetFiles())).toEqual(wasmAssetFiles());
  });
});

describe('the API reference bundle (api-docs)', () => {
  it('loads the request schemas only: no provider run code, AWS SDK, middy, Supabase or store', () => {
    expect(contains('api/api-docs', PROVIDER_RUN_CODE)).toEqual([]);
    expect(contains('api/api-docs', /node_modules\/(@middy|@aws-sdk|@smithy|@supabase)\//)).toEqual([]);
    // From auth/ only the registration body's schema (the one the handler validates with) and its tenant types.
    expect(
      contains(
        'api/api-docs',
        /functions\/core\/(http|auth\/(?!register-request\.ts|tenant-types\.ts)|storage\/|store\/|tasks\/(?!task\.ts))/,
      ),
    ).toEqual([]);
    expect(contains('api/api-docs', /functions\/core\/operations\/request-catalogue\.ts$/)).toHaveLength(1);
    expect(contains('api/api-docs', /functions\/core\/auth\/register-request\.ts$/)).toHaveLength(1);
  });

  it('names every file of the viewer, so the stack copies them beside it, and carries none of them', () => {
    expect(filesNamedIn(bundled('api/api-docs').text, docsAssetFiles())).toEqual(docsAssetFiles());
    expect(contains('api/api-docs', /node_modules\/swagger-ui-dist\//)).toEqual([]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Jimp } from 'jimp';
import { resetConfig } from '../../functions/core/config.ts';
import type { GeneratedFile } from '../../functions/core/operations/provider-operation.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { withProviderFetch } from '../../functions/core/providers/http-client.ts';
import { resetOpenaiClient } from '../../functions/core/providers/openai/client.ts';
import { PROVIDER_SETTINGS } from '../../functions/core/providers/settings.ts';
import { sniffFileKind } from '../../functions/core/storage/content-type.ts';
import { fetchInputs } from '../../functions/core/storage/input-fetcher.ts';
import { glbContainer } from '../local/sandbox/glb.ts';

/**
 * `npm run smoke:providers`: after a deploy, the cheapest real call of each operation whose
 * provider key is in the environment, through the same adapters the Lambdas run (validation,
 * input download, provider call, polling, result parsing), without DynamoDB or Supabase: inputs
 * are served from a file server on 127.0.0.1 that stands in for Storage. Prints one line per
 * operation with the provider's request id and the credits or cost the provider reports, skips
 * providers without a key, and exits non-zero on any failure. It spends real credits (a few
 * US dollars for every provider); it is not part of `npm test`.
 */

export interface SmokeResult {
  operation: string;
  provider: string;
  outcome: 'pass' | 'fail' | 'skip';
  detail: string;
  requestIds: string[];
  cost: string[];
  seconds: number;
}

export interface SmokeOptions {
  /** Where result lines go (default: stdout). */
  log?: (line: string) => void;
  /** Pause between polls of asynchronous jobs (default 5 s). */
  pollIntervalMs?: number;
  /** Give up on an asynchronous job after this long (default 15 minutes). */
  jobTimeoutMs?: number;
  /** Only these providers (default: every provider with a key). */
  providers?: readonly string[];
}

const PROMPT = 'A small wooden toy robot on a plain white background';

/** The cheapest request of each operation, per provider (bodies as the guide writes them). */
function smokeRequests(
  inputs: Record<string, string>,
): { operation: string; body: Record<string, unknown> }[] {
  const image = inputs['input.png'];
  const mask = inputs['mask.png'];
  const model = inputs['model.glb'];
  const task = (name: string) => ({ task_id: `smoke-${name}` });
  return [
    {
      operation: 'text-to-image',
      body: { ...task('t2i-openai'), provider: 'openai', prompt: PROMPT, quality: 'low', size: '1024x1024' },
    },
    {
      operation: 'image-to-image',
      body: {
        ...task('i2i-openai'),
        provider: 'openai',
        prompt: 'Make it blue',
        input_image_asset_url: image,
        quality: 'low',
        size: '1024x1024',
      },
    },
    { operation: 'text-to-image', body: { ...task('t2i-stability'), provider: 'stability', prompt: PROMPT } },
    {
      operation: 'image-to-image',
      body: {
        ...task('i2i-stability'),
        provider: 'stability',
        prompt: 'Make it blue',
        input_image_asset_url: image,
      },
    },
    {
      operation: 'sketch-to-image',
      body: { ...task('sketch'), provider: 'stability', prompt: PROMPT, input_sketch_asset_url: image },
    },
    {
      operation: 'remove-background',
      body: { ...task('rmbg-stability'), provider: 'stability', input_image_asset_url: image },
    },
    {
      operation: 'search-and-recolor',
      body: {
        ...task('recolor'),
        provider: 'stability',
        prompt: 'a blue robot',
        select_prompt: 'robot',
        input_image_asset_url: image,
      },
    },
    {
      operation: 'upscale',
      body: {
        ...task('upscale-stability'),
        provider: 'stability',
        input_image_asset_url: image,
        model: 'fast',
      },
    },
    {
      operation: 'image-to-model',
      body: { ...task('i2m-stability'), provider: 'stability', input_image_asset_urls: [image] },
    },
    {
      operation: 'text-to-image',
      body: { ...task('t2i-recraft'), provider: 'recraft', prompt: PROMPT, n: 1 },
    },
    {
      operation: 'image-to-image',
      body: {
        ...task('i2i-recraft'),
        provider: 'recraft',
        prompt: 'Make it blue',
        input_image_asset_url: image,
        n: 1,
      },
    },
    {
      operation: 'image-inpaint',
      body: {
        ...task('inpaint'),
        provider: 'recraft',
        prompt: 'a red hat',
        input_image_asset_url: image,
        input_mask_asset_url: mask,
        n: 1,
      },
    },
    {
      operation: 'remove-background',
      body: { ...task('rmbg-recraft'), provider: 'recraft', input_image_asset_url: image },
    },
    {
      operation: 'upscale',
      body: { ...task('upscale-recraft'), provider: 'recraft', input_image_asset_url: image },
    },
    {
      operation: 'image-to-image',
      body: { ...task('i2i-flux'), provider: 'flux', prompt: 'Make it blue', input_image_asset_url: image },
    },
    // Untextured geometry is Tripo's cheapest generation (10 and 20 credits on H3.1).
    {
      operation: 'text-to-model',
      body: { ...task('t2m'), provider: 'tripo', prompt: PROMPT, texture: false, pbr: false },
    },
    {
      operation: 'image-to-model',
      body: {
        ...task('i2m-tripo'),
        provider: 'tripo',
        input_image_asset_urls: [image],
        texture: false,
        pbr: false,
      },
    },
    {
      operation: 'refine-model',
      body: {
        ...task('refine'),
        provider: 'tripo',
        input_model_asset_url: model,
        prompt: 'weathered bronze',
      },
    },
  ];
}

/** The smoke inputs: a 256 px picture with a subject, its inpainting mask, and a one-triangle GLB. */
async function smokeFiles(): Promise<Map<string, { bytes: Buffer; type: string }>> {
  const picture = new Jimp({ width: 256, height: 256, color: 0xffffffff });
  const mask = new Jimp({ width: 256, height: 256, color: 0x000000ff });
  for (let y = 64; y < 192; y++) {
    for (let x = 80; x < 176; x++) {
      picture.setPixelColor((((x * 3) << 24) | ((y * 2) << 16) | (160 << 8) | 0xff) >>> 0, x, y);
      if (y < 96) mask.setPixelColor(0xffffffff, x, y);
    }
  }
  return new Map([
    ['input.png', { bytes: await picture.getBuffer('image/png'), type: 'image/png' }],
    ['mask.png', { bytes: await mask.getBuffer('image/png'), type: 'image/png' }],
    ['model.glb', { bytes: triangleGlb(), type: 'model/gltf-binary' }],
  ]);
}

/** A valid binary glTF with one triangle: the smallest model a re-texturing service can take. */
function triangleGlb(): Buffer {
  const positions = Buffer.from(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]).buffer);
  return glbContainer(
    {
      asset: { version: '2.0' },
      scene: 0,
      scenes: [{ nodes: [0] }],
      nodes: [{ mesh: 0 }],
      meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
      buffers: [{ byteLength: positions.length }],
      bufferViews: [{ buffer: 0, byteLength: positions.length }],
      accessors: [
        { bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] },
      ],
    },
    positions,
  );
}

/** Serves the inputs the way Supabase Storage's public object route does. */
async function serveInputs(
  files: Map<string, { bytes: Buffer; type: string }>,
): Promise<{ server: Server; base: string }> {
  const server = createServer((request, response) => {
    const name = (request.url ?? '').split('/').pop() ?? '';
    const file = files.get(name);
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response
      .writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length })
      .end(file.bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-tripo-trace-id', 'x-amzn-requestid', 'cf-ray'];
const COST_KEYS = ['credits_consumed', 'cost', 'credits', 'usage'];

/** A fetch that notes each answer's request id and any cost the provider reports in its body. */
function observingFetch(requestIds: string[], cost: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const id = REQUEST_ID_HEADERS.map((name) => response.headers.get(name)).find((value) => value);
    if (id) requestIds.push(id);
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      const body = await response
        .clone()
        .json()
        .catch(() => undefined);
      const data = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      const nested =
        typeof data.data === 'object' && data.data !== null ? (data.data as Record<string, unknown>) : {};
      for (const key of COST_KEYS) {
        const value = data[key] ?? nested[key];
        if (value !== undefined && value !== null) cost.push(`${key}=${JSON.stringify(value)}`);
      }
    }
    return response;
  };
}

function checkFiles(files: GeneratedFile[]): string {
  if (files.length === 0) throw new Error('no result file');
  for (const file of files) {
    if (!sniffFileKind(file.bytes)) throw new Error(`result is not a known file type (${file.contentType})`);
  }
  return files.map((file) => `${file.extension} ${file.bytes.length} B`).join(', ');
}

async function runOne(
  operation: string,
  body: Record<string, unknown>,
  options: Required<Pick<SmokeOptions, 'pollIntervalMs' | 'jobTimeoutMs'>>,
): Promise<Pick<SmokeResult, 'detail' | 'requestIds' | 'cost'>> {
  const requestIds: string[] = [];
  const cost: string[] = [];
  const detail = await withProviderFetch(observingFetch(requestIds, cost), async () => {
    const { entry, params } = validateGeneration(operation, body);
    const inputs = await fetchInputs(params, entry.inputFields);
    const context = { tenantId: 'smoke' };
    if (entry.mode === 'sync') return checkFiles((await entry.run(params, inputs, context)).files);
    const job = await entry.submit(params, inputs, context);
    const deadline = Date.now() + options.jobTimeoutMs;
    for (;;) {
      const outcome = await entry.poll(job.state, context);
      if (outcome.status === 'done') return `${checkFiles(outcome.files)}; job ${job.providerJobId}`;
      if (Date.now() > deadline) throw new Error(`job ${job.providerJobId} did not finish in time`);
      await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
    }
  });
  return { detail, requestIds: [...new Set(requestIds)], cost };
}

/** Runs the smoke calls; answers one result per operation and provider. */
export async function runSmoke(options: SmokeOptions = {}): Promise<SmokeResult[]> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const files = await smokeFiles();
  const { server, base } = await serveInputs(files);
  const savedSupabaseUrl = process.env.SUPABASE_URL;
  // The input URLs must be Storage URLs of the configured project: this server is that project.
  process.env.SUPABASE_URL = base;
  resetConfig();
  resetOpenaiClient();
  const urls = Object.fromEntries(
    [...files.keys()].map((name) => [name, `${base}/storage/v1/object/public/smoke/${name}`]),
  );
  const results: SmokeResult[] = [];
  try {
    for (const { operation, body } of smokeRequests(urls)) {
      const provider = String(body.provider);
      const settings = PROVIDER_SETTINGS.find((candidate) => candidate.name === provider);
      const started = Date.now();
      let result: SmokeResult;
      if (!settings || (options.providers && !options.providers.includes(provider))) continue;
      if (!process.env[settings.keyEnv]) {
        result = {
          operation,
          provider,
          outcome: 'skip',
          detail: `${settings.keyEnv} is not set`,
          requestIds: [],
          cost: [],
          seconds: 0,
        };
      } else {
        try {
          const done = await runOne(operation, body, {
            pollIntervalMs: options.pollIntervalMs ?? 5000,
            jobTimeoutMs: options.jobTimeoutMs ?? 15 * 60 * 1000,
          });
          result = { operation, provider, outcome: 'pass', ...done, seconds: (Date.now() - started) / 1000 };
        } catch (error) {
          const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          result = {
            operation,
            provider,
            outcome: 'fail',
            detail,
            requestIds: [],
            cost: [],
            seconds: (Date.now() - started) / 1000,
          };
        }
      }
      results.push(result);
      log(
        [
          result.outcome.toUpperCase().padEnd(4),
          `${provider} ${operation}`.padEnd(34),
          result.outcome === 'skip' ? '' : `${result.seconds.toFixed(1)} s`,
          result.detail,
          result.requestIds.length > 0 ? `request ${result.requestIds.join(', ')}` : '',
          result.cost.length > 0 ? `cost ${result.cost.join(' ')}` : '',
        ]
          .filter(Boolean)
          .join('  '),
      );
    }
  } finally {
    server.close();
    if (savedSupabaseUrl === undefined) delete process.env.SUPABASE_URL;
    else process.env.SUPABASE_URL = savedSupabaseUrl;
    resetConfig();
    resetOpenaiClient();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runSmoke();
  const failed = results.filter((result) => result.outcome === 'fail').length;
  const passed = results.filter((result) => result.outcome === 'pass').length;
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${results.length - passed - failed} skipped\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

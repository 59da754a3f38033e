import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { operationEntry, providersOf, servedOperations } from '../../functions/core/operations/catalogue.ts';
import type {
  SyncProviderOperation,
  SyncRunResult,
} from '../../functions/core/operations/provider-operation.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { withProviderFetch } from '../../functions/core/providers/http-client.ts';
import type { FetchedInput } from '../../functions/core/storage/input-fetcher.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import {
  createWire,
  expectNamedError,
  expectWireRequest,
  fetchedInput,
  filePart,
  loadFixture,
  minimalGlb,
  rejectionOf,
  requestOf,
  setEnvironment,
  type Wire,
} from '../support/wire.ts';

/**
 * Stability AI v2beta adapter against recorded examples written from Stability's API reference
 * (test/fixtures/providers/stability): the exact multipart request of every operation the BFF
 * serves with Stability, and how each documented answer is read.
 */

const API_KEY = 'sk-test';
const SUPABASE = 'http://localhost:54321';
const asset = (name: string) => `${SUPABASE}/storage/v1/object/public/makeit3d-app-assets/inputs/${name}`;
const fixture = (name: string) => loadFixture('stability', name);

let restoreEnvironment: () => void;
beforeAll(() => {
  restoreEnvironment = setEnvironment({
    STABILITY_API_KEY: API_KEY,
    STABILITY_API_KEY_SECRET_ARN: undefined,
    STABILITY_BASE_URL: undefined,
    PROVIDER_TIMEOUT_SECONDS: undefined,
    SUPABASE_URL: SUPABASE,
  });
});
afterAll(() => restoreEnvironment());

let wire: Wire;
beforeEach(() => {
  wire = createWire();
});
afterEach(() => wire.assertComplete());

function stabilityEntry(operation: string, body: Record<string, unknown>) {
  const { entry, params } = validateGeneration(operation, body);
  expect(entry).toBe(operationEntry(operation, 'stability'));
  if (entry.mode !== 'sync') throw new Error(`${operation} with stability should be synchronous`);
  return { entry: entry satisfies SyncProviderOperation, params };
}

/** Validates the request as the API does, then runs the adapter with the fake provider edge. */
function run(
  operation: string,
  body: Record<string, unknown>,
  inputs: FetchedInput[] = [],
): Promise<SyncRunResult> {
  const { entry, params } = stabilityEntry(operation, body);
  return withProviderFetch(wire.fetch, () => entry.run(params, inputs, { tenantId: 'tenant-wire' }));
}

async function pngInput(field: string, width: number, height: number): Promise<FetchedInput> {
  const url = asset(`${field.replace(/\W/g, '-')}.png`);
  return fetchedInput(
    field,
    url,
    await makePhotoFile('png', width, height, { seed: width + height }),
    'image/png',
  );
}

const TEXT_TO_IMAGE = {
  task_id: 'task-workspace-ghi789',
  provider: 'stability',
  prompt: 'A violet cartoon flying elephant with big ears',
  style_preset: 'fantasy-art',
  aspect_ratio: '1:1',
  negative_prompt: 'realistic, photo',
  output_format: 'png',
  seed: 42,
};

describe('Stability wire contract: the catalogue', () => {
  it('serves exactly the operations these wire tests cover', () => {
    const served = servedOperations().filter((operation) => providersOf(operation).includes('stability'));
    expect(served.sort()).toEqual(
      [
        'image-to-image',
        'image-to-model',
        'remove-background',
        'search-and-recolor',
        'sketch-to-image',
        'text-to-image',
        'upscale',
      ].sort(),
    );
  });
});

describe('Stability wire contract: requests and successful answers', () => {
  it('text-to-image posts the guide example to generate/core and keeps the image and seed', async () => {
    const example = fixture('generate-core');
    wire.respond(example);
    const result = await run('text-to-image', TEXT_TO_IMAGE);

    expectWireRequest(wire.onlyCall(), requestOf(example), { api_key: API_KEY });
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/generate/core',
      style_preset: 'fantasy-art',
      aspect_ratio: '1:1',
      output_format: 'png',
      seed: 42,
      seed_used: 343940597,
    });
  });

  it('text-to-image sends only the fields the client set, and stores webp answers as webp', async () => {
    const example = fixture('generate-core-webp');
    wire.respond(example);
    const result = await run('text-to-image', {
      task_id: 'minimal',
      provider: 'stability',
      prompt: 'a red cube on a white table',
      negative_prompt: '',
      output_format: 'webp',
    });

    expectWireRequest(wire.onlyCall(), requestOf(example), { api_key: API_KEY });
    expect(result.files[0]).toMatchObject({ contentType: 'image/webp', extension: 'webp' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/generate/core',
      output_format: 'webp',
      seed_used: 1050625087,
    });
  });

  it('image-to-image posts the guide example to control/style with the input as the image part', async () => {
    const example = fixture('control-style');
    const input = await pngInput('input_image_asset_url', 160, 90);
    wire.respond(example);
    const result = await run(
      'image-to-image',
      {
        task_id: 'task-workspace-def456',
        provider: 'stability',
        prompt: 'A futuristic cityscape at dusk',
        input_image_asset_url: input.url,
        style_preset: '3d-model',
        fidelity: 0.8,
        negative_prompt: 'blurry, low quality',
        output_format: 'png',
        seed: 12345,
      },
      [input],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(filePart(call, 'image').bytes.equals(input.bytes)).toBe(true);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/control/style',
      style_preset: '3d-model',
      fidelity: 0.8,
      aspect_ratio: '16:9',
      output_format: 'png',
      seed: 12345,
      aspect_ratio_from_input: '160x90',
      seed_used: 12345,
    });
  });

  it('sketch-to-image posts the guide example to control/sketch', async () => {
    const example = fixture('control-sketch');
    const sketch = await pngInput('input_sketch_asset_url', 128, 128);
    wire.respond(example);
    const result = await run(
      'sketch-to-image',
      {
        task_id: 'task-workspace-jkl012',
        provider: 'stability',
        input_sketch_asset_url: sketch.url,
        prompt: 'Modern furniture piece',
        control_strength: 0.7,
        style_preset: 'photographic',
        negative_prompt: 'blurry, distorted',
        output_format: 'png',
      },
      [sketch],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(filePart(call, 'image').size).toBe(sketch.bytes.length);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/control/sketch',
      control_strength: 0.7,
      style_preset: 'photographic',
      output_format: 'png',
      seed_used: 2287312211,
    });
  });

  it('remove-background posts the image and output_format to edit/remove-background', async () => {
    const example = fixture('remove-background');
    const input = await pngInput('input_image_asset_url', 96, 96);
    wire.respond(example);
    const result = await run(
      'remove-background',
      {
        task_id: 'task-workspace-pqr678',
        provider: 'stability',
        input_image_asset_url: input.url,
        output_format: 'png',
      },
      [input],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(filePart(call, 'image').bytes.equals(input.bytes)).toBe(true);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/edit/remove-background',
      output_format: 'png',
      seed_used: 0,
    });
  });

  it('search-and-recolor posts the guide example to edit/search-and-recolor', async () => {
    const example = fixture('search-and-recolor');
    const input = await pngInput('input_image_asset_url', 120, 96);
    wire.respond(example);
    const result = await run(
      'search-and-recolor',
      {
        task_id: 'task-workspace-xyz123',
        provider: 'stability',
        input_image_asset_url: input.url,
        prompt: 'light blue cat with dark blue stripes, maintaining the same pose and expression',
        select_prompt: 'cat',
        negative_prompt: 'blurry, low quality, distorted, orange, tan, brown',
        grow_mask: 3,
        seed: 0,
        output_format: 'png',
        style_preset: 'photographic',
      },
      [input],
    );

    expectWireRequest(wire.onlyCall(), requestOf(example), { api_key: API_KEY });
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/edit/search-and-recolor',
      grow_mask: 3,
      seed: 0,
      output_format: 'png',
      style_preset: 'photographic',
      seed_used: 3884015731,
    });
  });

  it('upscale with model fast calls the synchronous upscale/fast (never the asynchronous creative upscale)', async () => {
    const example = fixture('upscale-fast');
    const input = await pngInput('input_image_asset_url', 64, 64);
    wire.respond(example);
    const result = await run(
      'upscale',
      {
        task_id: 'upscale-stability-001',
        provider: 'stability',
        input_image_asset_url: input.url,
        model: 'fast',
        output_format: 'png',
      },
      [input],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(call.url).not.toMatch(/creative|conservative|results/);
    // `model` picks the endpoint; it is not a Stability field.
    expect(call.body.kind === 'multipart' && 'model' in call.body.fields).toBe(false);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/stable-image/upscale/fast',
      output_format: 'png',
      seed_used: 0,
    });
  });

  it('image-to-model posts the guide example to SPAR3D and stores the GLB', async () => {
    const example = fixture('spar3d');
    const input = await pngInput('input_image_asset_urls[0]', 128, 128);
    wire.respond(example);
    const result = await run(
      'image-to-model',
      {
        task_id: 'task-workspace-mno345',
        provider: 'stability',
        input_image_asset_urls: [input.url],
        prompt: 'High quality 3D model',
        texture_resolution: 1024,
        remesh: 'quad',
        foreground_ratio: 0.85,
        target_type: 'vertex',
        target_count: 10000,
        guidance_scale: 3.0,
        seed: 12345,
      },
      [input],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(filePart(call, 'image').bytes.equals(input.bytes)).toBe(true);
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({ contentType: 'model/gltf-binary', extension: 'glb' });
    expect(result.files[0]?.bytes.equals(minimalGlb())).toBe(true);
    expect(result.sent).toStrictEqual({
      endpoint: '/v2beta/3d/stable-point-aware-3d',
      texture_resolution: '1024',
      foreground_ratio: 1,
      remesh: 'quad',
      target_type: 'vertex',
      target_count: 10000,
      guidance_scale: 3,
      seed: 12345,
      translations: {
        foreground_ratio: {
          requested: 0.85,
          sent: 1,
          reason: 'SPAR3D takes 1-2; a value below 1 is sent as 1, its minimum',
        },
      },
      not_sent: { prompt: 'SPAR3D takes no prompt' },
    });
  });
});

describe('Stability wire contract: documented refusals', () => {
  const cases: [fixture: string, errorName: string, mentions: RegExp][] = [
    [
      'error-400-bad-request',
      'ProviderRejectedError',
      /HTTP 400.*bad_request: some-field: is required.*will not help/,
    ],
    ['error-401-unauthorized', 'ProviderRejectedError', /credentials \(HTTP 401\).*unauthorized/],
    ['error-403-content-moderation', 'ContentModeratedError', /content policy.*content_moderation/],
    ['error-413-payload-too-large', 'ProviderRejectedError', /HTTP 413.*payload_too_large.*10MiB/],
    ['error-422-invalid-language', 'ProviderRejectedError', /HTTP 422.*invalid_language.*English/],
    ['error-422-public-figure', 'ContentModeratedError', /content policy.*public_figure/],
    [
      'error-429-rate-limit',
      'ProviderRateLimitedError',
      /rate limit reached \(HTTP 429\).*150 requests.*later may help/,
    ],
    ['error-500-internal', 'ProviderUnavailableError', /unavailable \(HTTP 500\).*internal_error.*may help/],
  ];

  for (const [name, errorName, mentions] of cases) {
    it(`${name} fails the task with ${errorName}`, async () => {
      wire.respond(fixture(name));
      const error = await rejectionOf(run('text-to-image', TEXT_TO_IMAGE));
      expectNamedError(error, errorName);
      expect(error.message).toMatch(/^Stability AI /);
      expect(error.message).toMatch(mentions);
      expect(wire.calls).toHaveLength(1);
    });
  }

  it('a 200 whose finish-reason is CONTENT_FILTERED (a blurred image) fails as content moderated', async () => {
    wire.respond(fixture('content-filtered'));
    const error = await rejectionOf(run('text-to-image', TEXT_TO_IMAGE));
    expectNamedError(error, 'ContentModeratedError');
    expect(error.message).toMatch(/CONTENT_FILTERED/);
  });
});

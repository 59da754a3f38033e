import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { operationEntry, providersOf, servedOperations } from '../../functions/core/operations/catalogue.ts';
import type { SyncRunResult } from '../../functions/core/operations/provider-operation.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { withProviderFetch } from '../../functions/core/providers/http-client.ts';
import type { FetchedInput } from '../../functions/core/storage/input-fetcher.ts';
import { encodeFixture, makePhotoFile } from '../support/image-fixtures.ts';
import {
  createWire,
  expectNamedError,
  expectWireRequest,
  fetchedInput,
  filePart,
  loadFixture,
  type RecordedCall,
  rejectionOf,
  requestOf,
  setEnvironment,
  type Wire,
} from '../support/wire.ts';

/**
 * Recraft adapter against recorded examples written from Recraft's API reference and its
 * external-api OpenAPI spec (test/fixtures/providers/recraft): the exact request of every
 * operation the BFF serves with Recraft, result downloads, and Recraft's text and JSON errors.
 */

const API_KEY = 'recraft-test-token';
const SUPABASE = 'http://localhost:54321';
const asset = (name: string) => `${SUPABASE}/storage/v1/object/public/makeit3d-app-assets/inputs/${name}`;
const fixture = (name: string) => loadFixture('recraft', name);
const GUIDE_STYLE_ID_NOTE = (id: string) =>
  `'${id}' is the guide's placeholder, not a Recraft style id (a UUID)`;

let restoreEnvironment: () => void;
beforeAll(() => {
  restoreEnvironment = setEnvironment({
    RECRAFT_API_KEY: API_KEY,
    RECRAFT_API_KEY_SECRET_ARN: undefined,
    RECRAFT_BASE_URL: undefined,
    // The stage override of the default model: the wire must show the shipped default.
    RECRAFT_MODEL: undefined,
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

/** Validates the request as the API does, then runs the adapter with the fake provider edge. */
function run(
  operation: string,
  body: Record<string, unknown>,
  inputs: FetchedInput[] = [],
): Promise<SyncRunResult> {
  const { entry, params } = validateGeneration(operation, body);
  expect(entry).toBe(operationEntry(operation, 'recraft'));
  if (entry.mode !== 'sync') throw new Error(`${operation} with recraft should be synchronous`);
  return withProviderFetch(wire.fetch, () => entry.run(params, inputs, { tenantId: 'tenant-wire' }));
}

async function pngInput(field: string, side: number): Promise<FetchedInput> {
  const url = asset(`${field.replace(/\W/g, '-')}.png`);
  return fetchedInput(field, url, await makePhotoFile('png', side, side, { seed: side }), 'image/png');
}

/** A pure black/white mask (white = regenerate) of the given size, as Recraft requires. */
async function maskInput(side: number): Promise<FetchedInput> {
  const data = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const value = y < side / 2 ? 255 : 0;
      data.set([value, value, value, 255], (y * side + x) * 4);
    }
  }
  const bytes = await encodeFixture({ data, width: side, height: side }, 'png');
  return fetchedInput('input_mask_asset_url', asset('mask.png'), bytes, 'image/png');
}

/** Queues the download of `url` and returns a check that the call was made without the token. */
function expectDownload(url: string): (call: RecordedCall | undefined) => void {
  const download = fixture('result-download');
  wire.respond(download, { method: 'GET', url });
  return (call) => {
    if (!call) throw new Error(`no download of ${url}`);
    expectWireRequest(call, requestOf(download), { result_url: url });
    expect(call.headers['x-key']).toBeUndefined();
  };
}

function urlsOf(body: unknown): string[] {
  const text = JSON.stringify(body);
  return [...text.matchAll(/"url":"([^"]+)"/g)].map((match) => match[1] ?? '');
}

describe('Recraft wire contract: the catalogue', () => {
  it('serves exactly the operations these wire tests cover', () => {
    const served = servedOperations().filter((operation) => providersOf(operation).includes('recraft'));
    expect(served.sort()).toEqual(
      ['image-inpaint', 'image-to-image', 'remove-background', 'text-to-image', 'upscale'].sort(),
    );
  });
});

describe('Recraft wire contract: requests and successful answers', () => {
  it('text-to-image posts the guide example as JSON with the model explicit, then downloads the url without the token', async () => {
    const example = fixture('generations');
    wire.respond(example);
    const [resultUrl] = urlsOf(example.response.body);
    if (!resultUrl) throw new Error('fixture has no url');
    const checkDownload = expectDownload(resultUrl);

    const result = await run('text-to-image', {
      task_id: 'task-workspace-jkl012',
      provider: 'recraft',
      prompt: 'A violet cartoon flying elephant with big ears',
      style: 'digital_illustration',
      substyle: 'hand_drawn',
      n: 1,
      model: 'recraftv3',
      response_format: 'url',
      size: '1024x1024',
      style_id: 'custom_style_456',
    });

    expect(wire.calls).toHaveLength(2);
    expectWireRequest(wire.calls[0] as RecordedCall, requestOf(example), { api_key: API_KEY });
    checkDownload(wire.calls[1]);
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({ contentType: 'image/webp', extension: 'webp' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v1/images/generations',
      model: 'recraftv3',
      not_sent: { style_id: GUIDE_STYLE_ID_NOTE('custom_style_456') },
    });
    expect(result.facts).toStrictEqual({
      recraft_credits: 40,
      recraft_image_ids: ['5d0b6f0e-6a1f-4b6e-9c2a-3c1d2e4f5a6b'],
    });
  });

  it('text-to-image without a model still sends model recraftv3 (Recraft defaults to V4.1) and decodes b64_json', async () => {
    const example = fixture('generations-model-omitted');
    wire.respond(example);
    const result = await run('text-to-image', {
      task_id: 'no-model',
      provider: 'recraft',
      prompt: 'two race cars on a track',
      response_format: 'b64_json',
    });

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(call.body.kind === 'json' && (call.body.value as { model?: unknown }).model).toBe('recraftv3');
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v1/images/generations',
      model: 'recraftv3',
      defaults: { model: 'recraftv3' },
    });
  });

  it('image-to-image posts the guide example as multipart with the input as image, then downloads both results', async () => {
    const example = fixture('image-to-image');
    const input = await pngInput('input_image_asset_url', 256);
    wire.respond(example);
    const urls = urlsOf(example.response.body);
    expect(urls).toHaveLength(2);
    const checks = urls.map((url) => expectDownload(url));

    const result = await run(
      'image-to-image',
      {
        task_id: 'task-workspace-ghi789',
        provider: 'recraft',
        prompt: 'A futuristic cityscape at dusk',
        input_image_asset_url: input.url,
        style: 'realistic_image',
        substyle: 'b_and_w',
        strength: 0.3,
        negative_prompt: 'cartoon, anime',
        n: 2,
        model: 'recraftv3',
        response_format: 'url',
        style_id: 'custom_style_123',
      },
      [input],
    );

    expect(wire.calls).toHaveLength(3);
    const [post, ...downloads] = wire.calls;
    if (!post) throw new Error('no request');
    expectWireRequest(post, requestOf(example), { api_key: API_KEY });
    expect(filePart(post, 'image').bytes.equals(input.bytes)).toBe(true);
    checks.forEach((check, index) => {
      check(downloads[index]);
    });
    expect(result.files).toHaveLength(2);
    for (const file of result.files)
      expect(file).toMatchObject({ contentType: 'image/webp', extension: 'webp' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v1/images/imageToImage',
      model: 'recraftv3',
      strength: 0.3,
      not_sent: { style_id: GUIDE_STYLE_ID_NOTE('custom_style_123') },
    });
    expect(result.facts).toStrictEqual({
      recraft_credits: 80,
      recraft_image_ids: ['9b2f7c1e-41d3-4c38-9a0e-5f6d7e8c9b10', 'c4e5d6f7-8a9b-4c0d-9e1f-2a3b4c5d6e7f'],
    });
  });

  it('image-inpaint posts image and mask parts with the model explicit', async () => {
    const example = fixture('inpaint');
    const image = await pngInput('input_image_asset_url', 256);
    const mask = await maskInput(256);
    wire.respond(example);

    const result = await run(
      'image-inpaint',
      {
        task_id: 'inpaint-001',
        provider: 'recraft',
        prompt: 'Replace the sky with a starry night',
        input_image_asset_url: image.url,
        input_mask_asset_url: mask.url,
        style: 'realistic_image',
        n: 1,
        response_format: 'b64_json',
      },
      [image, mask],
    );

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), { api_key: API_KEY });
    expect(filePart(call, 'image').bytes.equals(image.bytes)).toBe(true);
    expect(filePart(call, 'mask').bytes.equals(mask.bytes)).toBe(true);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: '/v1/images/inpaint',
      model: 'recraftv3',
      defaults: { model: 'recraftv3' },
    });
  });

  it('remove-background posts the image part (not the legacy file) and downloads the single result', async () => {
    const example = fixture('remove-background');
    const input = await pngInput('input_image_asset_url', 256);
    wire.respond(example);
    const [resultUrl] = urlsOf(example.response.body);
    if (!resultUrl) throw new Error('fixture has no url');
    const checkDownload = expectDownload(resultUrl);

    const result = await run(
      'remove-background',
      {
        task_id: 'task-workspace-stu901',
        provider: 'recraft',
        input_image_asset_url: input.url,
        response_format: 'url',
      },
      [input],
    );

    expect(wire.calls).toHaveLength(2);
    const [post] = wire.calls;
    if (!post) throw new Error('no request');
    expectWireRequest(post, requestOf(example), { api_key: API_KEY });
    expect(filePart(post, 'image').size).toBe(input.bytes.length);
    checkDownload(wire.calls[1]);
    expect(result.files[0]).toMatchObject({ contentType: 'image/webp', extension: 'webp' });
    expect(result.sent).toStrictEqual({ endpoint: '/v1/images/removeBackground' });
    expect(result.facts).toStrictEqual({
      recraft_credits: 10,
      recraft_image_ids: ['3f4e5d6c-7b8a-4998-8776-655443322110'],
    });
  });

  it('upscale with model crisp posts to crispUpscale (model is not a Recraft field there)', async () => {
    const example = fixture('crisp-upscale');
    const input = await pngInput('input_image_asset_url', 64);
    wire.respond(example);
    const [resultUrl] = urlsOf(example.response.body);
    if (!resultUrl) throw new Error('fixture has no url');
    const checkDownload = expectDownload(resultUrl);

    const result = await run(
      'upscale',
      {
        task_id: 'upscale-recraft-001',
        provider: 'recraft',
        input_image_asset_url: input.url,
        model: 'crisp',
        response_format: 'url',
      },
      [input],
    );

    expect(wire.calls).toHaveLength(2);
    const [post] = wire.calls;
    if (!post) throw new Error('no request');
    expectWireRequest(post, requestOf(example), { api_key: API_KEY });
    checkDownload(wire.calls[1]);
    expect(result.files[0]).toMatchObject({ contentType: 'image/webp', extension: 'webp' });
    expect(result.sent).toStrictEqual({ endpoint: '/v1/images/crispUpscale' });
  });
});

describe('Recraft wire contract: documented errors', () => {
  const request = {
    task_id: 'errors',
    provider: 'recraft',
    prompt: 'two race cars on a track',
    model: 'recraftv3',
  };

  it('401 text/plain "request unauthorized" fails as a credentials problem, read as text', async () => {
    wire.respond(fixture('error-401-unauthorized'));
    const error = await rejectionOf(run('text-to-image', request));
    expectNamedError(error, 'ProviderRejectedError');
    expect(error.message).toBe(
      "Recraft refused the BFF's credentials (HTTP 401): request unauthorized; the service's provider key must be fixed, retrying will not help",
    );
  });

  it('404 text/plain "404 page not found" fails as a rejected request', async () => {
    wire.respond(fixture('error-404-not-found'));
    const error = await rejectionOf(run('text-to-image', request));
    expectNamedError(error, 'ProviderRejectedError');
    expect(error.message).toBe(
      'Recraft rejected the request (HTTP 404): 404 page not found; retrying will not help',
    );
  });

  it('a JSON error body is parsed (only because it says application/json) into a readable reason', async () => {
    wire.respond(fixture('error-400-json'));
    const error = await rejectionOf(run('text-to-image', request));
    expectNamedError(error, 'ProviderRejectedError');
    expect(error.message).toBe(
      'Recraft rejected the request (HTTP 400): invalid_size: size 1000x1000 is not supported by model recraftv3; retrying will not help',
    );
  });
});

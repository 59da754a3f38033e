import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RETRYABLE_ERROR_NAMES } from '../../functions/core/errors.ts';
import { operationEntry, providersOf, servedOperations } from '../../functions/core/operations/catalogue.ts';
import type { SyncRunResult } from '../../functions/core/operations/provider-operation.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { withProviderFetch } from '../../functions/core/providers/http-client.ts';
import { resetOpenaiClient } from '../../functions/core/providers/openai/client.ts';
import type { FetchedInput } from '../../functions/core/storage/input-fetcher.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import {
  createWire,
  expectNamedError,
  expectWireRequest,
  fetchedInput,
  filePart,
  loadFixture,
  rejectionOf,
  requestOf,
  setEnvironment,
  type Wire,
  type WireFixture,
} from '../support/wire.ts';

/**
 * OpenAI Images adapter (GPT image models, through the official `openai` SDK) against recorded
 * examples written from OpenAI's guide, its Node SDK and its error documentation
 * (test/fixtures/providers/openai): the exact request of both operations, how the answer is
 * read, and every error class the adapter must tell apart.
 */

const API_KEY = 'sk-wire-test';
const SUPABASE = 'http://localhost:54321';
const fixture = (name: string) => loadFixture('openai', name);

/**
 * The SDK's own platform headers (X-Stainless-OS/Arch/Runtime-Version) describe the machine the
 * test runs on, normalised as openai-node's internal/detect-platform does.
 */
const PLATFORM_NAMES: Record<string, string> = {
  linux: 'Linux',
  darwin: 'MacOS',
  win32: 'Windows',
  freebsd: 'FreeBSD',
  openbsd: 'OpenBSD',
  android: 'Android',
};
const ARCH_NAMES: Record<string, string> = { x64: 'x64', arm64: 'arm64', arm: 'arm' };
const BINDINGS = {
  api_key: API_KEY,
  sdk_os: PLATFORM_NAMES[process.platform] ?? `Other:${process.platform}`,
  sdk_arch: ARCH_NAMES[process.arch] ?? `other:${process.arch}`,
  sdk_runtime_version: process.version,
};

let restoreEnvironment: () => void;
beforeAll(() => {
  restoreEnvironment = setEnvironment({
    OPENAI_API_KEY: API_KEY,
    OPENAI_API_KEY_SECRET_ARN: undefined,
    OPENAI_BASE_URL: undefined,
    // The stage overrides of the default models: the wire must show the shipped defaults.
    OPENAI_TEXT_TO_IMAGE_MODEL: undefined,
    OPENAI_IMAGE_TO_IMAGE_MODEL: undefined,
    // Read by the SDK itself: each would add a header or change authentication.
    OPENAI_ORG_ID: undefined,
    OPENAI_PROJECT_ID: undefined,
    OPENAI_ADMIN_KEY: undefined,
    OPENAI_CUSTOM_HEADERS: undefined,
    PROVIDER_TIMEOUT_SECONDS: undefined,
    SUPABASE_URL: SUPABASE,
  });
});
afterAll(() => {
  restoreEnvironment();
  resetOpenaiClient();
});

let wire: Wire;
beforeEach(() => {
  wire = createWire();
  // The client is cached with its key and base URL: each test starts from the environment.
  resetOpenaiClient();
});
afterEach(() => wire.assertComplete());

/**
 * The wire as the SDK sees it. Before its first multipart request the SDK checks once that its
 * fetch encodes FormData, by fetching `data:,` (openai-node internal/uploads supportsFormData);
 * that probe never leaves the process, so the platform fetch answers it, not the provider edge.
 */
function sdkFetch(target: Wire): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return url.startsWith('data:') ? fetch(input, init) : target.fetch(input, init);
  };
}

/** Validates the request as the API does, then runs the adapter with the fake provider edge. */
function run(
  operation: string,
  body: Record<string, unknown>,
  inputs: FetchedInput[] = [],
): Promise<SyncRunResult> {
  const { entry, params } = validateGeneration(operation, body);
  expect(entry).toBe(operationEntry(operation, 'openai'));
  if (entry.mode !== 'sync') throw new Error(`${operation} with openai should be synchronous`);
  return withProviderFetch(sdkFetch(wire), () => entry.run(params, inputs, { tenantId: 'tenant-wire' }));
}

async function pngInput(): Promise<FetchedInput> {
  const url = `${SUPABASE}/storage/v1/object/public/makeit3d-app-assets/inputs/city.png`;
  return fetchedInput(
    'input_image_asset_url',
    url,
    await makePhotoFile('png', 96, 64, { seed: 9 }),
    'image/png',
  );
}

/** The decoded images a fixture's answer carries, in order. */
function imagesOf(example: WireFixture): Buffer[] {
  const body = example.response.body as { data: { b64_json: string }[] };
  return body.data.map((item) => Buffer.from(item.b64_json, 'base64'));
}

const TEXT_TO_IMAGE = {
  task_id: 'task-workspace-def456',
  provider: 'openai',
  prompt: 'A violet cartoon flying elephant with big ears',
  style: 'vivid',
  n: 1,
  size: '1024x1024',
  quality: 'standard',
};

const IMAGE_TO_IMAGE = {
  task_id: 'task-workspace-abc123',
  provider: 'openai',
  prompt: 'A futuristic cityscape at dusk',
  style: 'vivid',
  background: 'transparent',
  n: 2,
  size: '1024x1024',
  quality: 'standard',
};

/** What the guide's text-to-image example records as sent, whatever the model. */
const TEXT_TO_IMAGE_SENT = {
  endpoint: 'images/generations',
  model: 'gpt-image-2.6-flare',
  model_from: 'OPENAI_TEXT_TO_IMAGE_MODEL',
  n: 1,
  quality: 'medium',
  quality_translated_from: 'standard',
  style_applied_as: 'prompt suffix "Style: vivid."',
};

describe('OpenAI wire contract: the catalogue', () => {
  it('serves exactly the operations these wire tests cover', () => {
    const served = servedOperations().filter((operation) => providersOf(operation).includes('openai'));
    expect(served.sort()).toEqual(['image-to-image', 'text-to-image']);
  });
});

describe('OpenAI wire contract: requests and successful answers', () => {
  it('text-to-image posts the guide example translated for gpt-image-2.6-flare, and decodes b64_json', async () => {
    const example = fixture('generations');
    wire.respond(example);
    const result = await run('text-to-image', TEXT_TO_IMAGE);

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), BINDINGS);
    // DALL·E-era fields are never sent to a GPT image model.
    const sent = call.body.kind === 'json' ? (call.body.value as Record<string, unknown>) : {};
    for (const field of ['style', 'response_format', 'stream']) expect(sent).not.toHaveProperty(field);
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.files[0]?.bytes.equals(imagesOf(example)[0] ?? Buffer.alloc(0))).toBe(true);
    expect(result.sent).toStrictEqual(TEXT_TO_IMAGE_SENT);
  });

  it('n: 3 is one request asking for three images, and all three are kept in order', async () => {
    const example = fixture('generations-n3');
    wire.respond(example);
    const result = await run('text-to-image', { ...TEXT_TO_IMAGE, n: 3 });

    expectWireRequest(wire.onlyCall(), requestOf(example), BINDINGS);
    const expected = imagesOf(example);
    expect(result.files).toHaveLength(3);
    result.files.forEach((file, index) => {
      expect(file).toMatchObject({ contentType: 'image/png', extension: 'png' });
      expect(file.bytes.equals(expected[index] ?? Buffer.alloc(0))).toBe(true);
    });
    expect(result.sent).toStrictEqual({ ...TEXT_TO_IMAGE_SENT, n: 3 });
  });

  it('image-to-image posts the guide example as one multipart edit, with transparency as PNG', async () => {
    const example = fixture('edits');
    const input = await pngInput();
    wire.respond(example);
    const result = await run('image-to-image', { ...IMAGE_TO_IMAGE, input_image_asset_url: input.url }, [
      input,
    ]);

    const call = wire.onlyCall();
    expectWireRequest(call, requestOf(example), BINDINGS);
    expect(filePart(call, 'image').bytes.equals(input.bytes)).toBe(true);
    expect(result.files).toHaveLength(2);
    for (const file of result.files)
      expect(file).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(result.sent).toStrictEqual({
      endpoint: 'images/edits',
      model: 'gpt-image-2.6-sunburst',
      model_from: 'OPENAI_IMAGE_TO_IMAGE_MODEL',
      n: 2,
      quality: 'medium',
      quality_translated_from: 'standard',
      style_applied_as: 'prompt suffix "Style: vivid."',
      output_format: 'png',
      output_format_reason: 'background "transparent" needs PNG',
    });
  });

  it('sends the model a stage sets in OPENAI_TEXT_TO_IMAGE_MODEL', async () => {
    const restore = setEnvironment({ OPENAI_TEXT_TO_IMAGE_MODEL: 'gpt-image-2.5-flare' });
    try {
      const example = fixture('generations-stage-model');
      wire.respond(example);
      const result = await run('text-to-image', TEXT_TO_IMAGE);

      expectWireRequest(wire.onlyCall(), requestOf(example), BINDINGS);
      expect(result.sent).toStrictEqual({ ...TEXT_TO_IMAGE_SENT, model: 'gpt-image-2.5-flare' });
    } finally {
      restore();
    }
  });

  it('sends to the host OPENAI_BASE_URL names', async () => {
    const restore = setEnvironment({ OPENAI_BASE_URL: 'https://eu.api.openai.com/v1' });
    resetOpenaiClient();
    try {
      const example = fixture('generations-eu-host');
      wire.respond(example);
      await run('text-to-image', TEXT_TO_IMAGE);

      expectWireRequest(wire.onlyCall(), requestOf(example), BINDINGS);
    } finally {
      restore();
      resetOpenaiClient();
    }
  });
});

describe('OpenAI wire contract: documented refusals', () => {
  const cases: [fixture: string, errorName: string, mentions: RegExp][] = [
    [
      'error-404-model-not-found',
      'ProviderRejectedError',
      /^OpenAI does not serve the model 'gpt-image-2\.6-flare' \(model_not_found.*set OPENAI_TEXT_TO_IMAGE_MODEL to a current OpenAI image model; retrying will not help$/,
    ],
    [
      'error-400-model-not-found',
      'ProviderRejectedError',
      /^OpenAI does not serve the model 'gpt-image-2\.6-flare' \(model_not_found.*set OPENAI_TEXT_TO_IMAGE_MODEL to a current OpenAI image model; retrying will not help$/,
    ],
    [
      'error-400-moderation-blocked',
      'ContentModeratedError',
      /^OpenAI refused this request under its content policy \(Your request was rejected by the safety system.*safety_violations=\[violence\]/,
    ],
    [
      'error-429-rate-limit',
      'ProviderRateLimitedError',
      /^OpenAI rate limit reached \(HTTP 429\): Rate limit reached for gpt-image-2\.6-flare.*retrying later may help$/,
    ],
    [
      'error-429-insufficient-quota',
      'ProviderRejectedError',
      /^OpenAI refused the request because the service's account has no quota left .*You exceeded your current quota.*retrying will not help until billing is fixed$/,
    ],
    [
      'error-500-server-error',
      'ProviderUnavailableError',
      /^OpenAI is unavailable \(HTTP 500\): The server had an error while processing your request.*retrying may help$/,
    ],
    [
      'error-401-invalid-api-key',
      'ProviderRejectedError',
      /^OpenAI refused the BFF's credentials \(HTTP 401\): Incorrect API key provided.*the service's provider key must be fixed, retrying will not help$/,
    ],
  ];

  for (const [name, errorName, mentions] of cases) {
    it(`${name} fails the task with ${errorName}, after one attempt`, async () => {
      wire.respond(fixture(name));
      const error = await rejectionOf(run('text-to-image', TEXT_TO_IMAGE));
      expectNamedError(error, errorName);
      expect(error.message).toMatch(mentions);
      // The SDK's own retries are off: the state machine decides whether to try again.
      expect(wire.calls).toHaveLength(1);
      expect((RETRYABLE_ERROR_NAMES as readonly string[]).includes(error.name)).toBe(
        ['ProviderRateLimitedError', 'ProviderUnavailableError'].includes(errorName),
      );
    });
  }

  it('model_not_found on image-to-image names OPENAI_IMAGE_TO_IMAGE_MODEL', async () => {
    const input = await pngInput();
    wire.respond(fixture('error-404-model-not-found'));
    const error = await rejectionOf(
      run('image-to-image', { ...IMAGE_TO_IMAGE, input_image_asset_url: input.url }, [input]),
    );
    expectNamedError(error, 'ProviderRejectedError');
    expect(error.message).toMatch(
      /^OpenAI does not serve the model 'gpt-image-2\.6-sunburst' .*set OPENAI_IMAGE_TO_IMAGE_MODEL/,
    );
  });

  // OpenAI's error-code guide (developers.openai.com/docs/guides/error-codes) answers an
  // exhausted quota with HTTP 429; the message reports that status, not an invented one.
  it('insufficient_quota: the message reports the status OpenAI answered (429)', async () => {
    wire.respond(fixture('error-429-insufficient-quota'));
    const error = await rejectionOf(run('text-to-image', TEXT_TO_IMAGE));
    expect(error.message).toContain('HTTP 429');
  });
});

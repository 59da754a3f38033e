import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { operationEntry, providersOf, servedOperations } from '../../functions/core/operations/catalogue.ts';
import type {
  AsyncProviderOperation,
  PollOutcome,
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
  loadFixture,
  type RecordedCall,
  rejectionOf,
  requestOf,
  setEnvironment,
  type Wire,
} from '../support/wire.ts';

/**
 * Black Forest Labs FLUX.1 Kontext adapter against recorded examples written from BFL's API
 * reference (test/fixtures/providers/flux): the exact submit request, polling the returned
 * polling_url verbatim, every documented task status, the result download, and HTTP errors.
 */

const API_KEY = 'bfl-test-key';
const SUPABASE = 'http://localhost:54321';
const TASK_ID = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const POLLING_URL = `https://api.eu.bfl.ai/v1/get_result?id=${TASK_ID}`;
const fixture = (name: string) => loadFixture('flux', name);

let restoreEnvironment: () => void;
beforeAll(() => {
  restoreEnvironment = setEnvironment({
    BFL_API_KEY: API_KEY,
    BFL_API_KEY_SECRET_ARN: undefined,
    BFL_BASE_URL: undefined,
    // The stage override of the default Kontext endpoint: the wire must show the shipped default.
    BFL_IMAGE_TO_IMAGE_MODEL: undefined,
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

function fluxEntry(): AsyncProviderOperation {
  const entry = operationEntry('image-to-image', 'flux');
  if (entry.mode !== 'async') throw new Error('image-to-image with flux should be asynchronous');
  return entry;
}

async function inputImage(): Promise<FetchedInput> {
  const url = `${SUPABASE}/storage/v1/object/public/makeit3d-app-assets/inputs/photo.png`;
  return fetchedInput(
    'input_image_asset_url',
    url,
    await makePhotoFile('png', 96, 64, { seed: 5 }),
    'image/png',
  );
}

/** Validates the request as the API does, then submits it with the fake provider edge. */
function submit(body: Record<string, unknown>, inputs: FetchedInput[]) {
  const { entry, params } = validateGeneration('image-to-image', body);
  expect(entry).toBe(fluxEntry());
  if (entry.mode !== 'async') throw new Error('image-to-image with flux should be asynchronous');
  return withProviderFetch(wire.fetch, () => entry.submit(params, inputs, { tenantId: 'tenant-wire' }));
}

/** Polls a task submitted as the Kontext [pro] fixture answers it. */
function poll(outputFormat: 'png' | 'jpeg' = 'png'): Promise<PollOutcome> {
  const state = { id: TASK_ID, polling_url: POLLING_URL, output_format: outputFormat };
  return withProviderFetch(wire.fetch, () => fluxEntry().poll(state, { tenantId: 'tenant-wire' }));
}

const GUIDE_EXAMPLE = {
  task_id: 'task-workspace-mno012',
  provider: 'flux',
  prompt: 'A futuristic cityscape at dusk',
  aspect_ratio: '1:1',
  output_format: 'png',
  safety_tolerance: 2,
  prompt_upsampling: false,
};

describe('Flux wire contract: the catalogue', () => {
  it('serves exactly the operation these wire tests cover', () => {
    const served = servedOperations().filter((operation) => providersOf(operation).includes('flux'));
    expect(served).toEqual(['image-to-image']);
  });
});

describe('Flux wire contract: submit', () => {
  it('posts the guide example to flux-kontext-pro as JSON with x-key and the input as base64', async () => {
    const example = fixture('submit-kontext-pro');
    const input = await inputImage();
    wire.respond(example);
    const created = await submit({ ...GUIDE_EXAMPLE, input_image_asset_url: input.url }, [input]);

    expectWireRequest(wire.onlyCall(), requestOf(example), {
      api_key: API_KEY,
      input_image_base64: input.bytes.toString('base64'),
    });
    expect(created).toStrictEqual({
      providerJobId: TASK_ID,
      // The regional polling_url is kept verbatim, not rebuilt from the id or the base URL.
      state: { id: TASK_ID, polling_url: POLLING_URL, output_format: 'png' },
      sent: { endpoint: '/v1/flux-kontext-pro', aspect_ratio: '1:1', cost_credits: 4 },
    });
  });

  it('posts to flux-kontext-max without aspect_ratio when the client chose none', async () => {
    const example = fixture('submit-kontext-max');
    const input = await inputImage();
    wire.respond(example);
    const created = await submit(
      {
        task_id: 'max-001',
        provider: 'flux',
        prompt: 'Make it snow',
        input_image_asset_url: input.url,
        model: 'flux-kontext-max',
        output_format: 'jpeg',
        seed: 7,
      },
      [input],
    );

    expectWireRequest(wire.onlyCall(), requestOf(example), {
      api_key: API_KEY,
      input_image_base64: input.bytes.toString('base64'),
    });
    expect(created.state).toStrictEqual({ id: TASK_ID, polling_url: POLLING_URL, output_format: 'jpeg' });
    expect(created.sent).toStrictEqual({
      endpoint: '/v1/flux-kontext-max',
      aspect_ratio: 'not sent (output follows the input image)',
    });
  });

  const errors: [fixture: string, errorName: string, message: string][] = [
    [
      'error-402-payment-required',
      'ProviderRejectedError',
      'Flux (Black Forest Labs) rejected the request (HTTP 402): Insufficient credits; retrying will not help',
    ],
    [
      'error-422-validation',
      'ProviderRejectedError',
      'Flux (Black Forest Labs) rejected the request (HTTP 422): safety_tolerance: Input should be less than or equal to 6; retrying will not help',
    ],
    [
      'error-429-rate-limit',
      'ProviderRateLimitedError',
      'Flux (Black Forest Labs) rate limit reached (HTTP 429): Rate limit exceeded: too many active tasks; retrying later may help',
    ],
    [
      'error-503-unavailable',
      'ProviderUnavailableError',
      'Flux (Black Forest Labs) is unavailable (HTTP 503): Service temporarily unavailable; retrying may help',
    ],
  ];
  for (const [name, errorName, message] of errors) {
    it(`${name} on submit fails with ${errorName}`, async () => {
      const input = await inputImage();
      wire.respond(fixture(name));
      const error = await rejectionOf(
        submit({ ...GUIDE_EXAMPLE, input_image_asset_url: input.url }, [input]),
      );
      expectNamedError(error, errorName);
      expect(error.message).toBe(message);
      expect(wire.calls).toHaveLength(1);
    });
  }
});

describe('Flux wire contract: polling', () => {
  it('Pending: polls the polling_url verbatim with x-key and reports progress as a percentage', async () => {
    const example = fixture('poll-pending');
    wire.respond(example);
    const outcome = await poll();

    expectWireRequest(wire.onlyCall(), requestOf(example), { api_key: API_KEY, polling_url: POLLING_URL });
    if (outcome.status !== 'pending') throw new Error(`expected pending, got ${outcome.status}`);
    expect(outcome.progress).toBeCloseTo(42, 6);
    // The wait is the state machine's schedule (poll-schedule.ts), not a fixed one from the adapter.
    expect(outcome.waitSeconds).toBeUndefined();
  });

  it('Ready: downloads result.sample at once, without the API key, and stores what the bytes are', async () => {
    const ready = fixture('poll-ready');
    const download = fixture('result-download');
    const sample = (ready.response.body as { result: { sample: string } }).result.sample;
    wire
      .respond(ready, { method: 'GET', url: POLLING_URL })
      .respond(download, { method: 'GET', url: sample });
    const outcome = await poll();

    expect(wire.calls).toHaveLength(2);
    const [pollCall, downloadCall] = wire.calls as [RecordedCall, RecordedCall];
    expectWireRequest(pollCall, requestOf(ready), { api_key: API_KEY, polling_url: POLLING_URL });
    expectWireRequest(downloadCall, requestOf(download), { sample_url: sample });
    if (outcome.status !== 'done') throw new Error(`expected done, got ${outcome.status}`);
    expect(outcome.files).toHaveLength(1);
    expect(outcome.files[0]).toMatchObject({ contentType: 'image/png', extension: 'png' });
    expect(outcome.sent).toStrictEqual({ seed_used: 1234567890 });
  });

  const terminal: [fixture: string, errorName: string, mentions: RegExp][] = [
    [
      'poll-request-moderated',
      'ContentModeratedError',
      /content policy \(Request Moderated: the prompt or input image was flagged/,
    ],
    [
      'poll-content-moderated',
      'ContentModeratedError',
      /content policy \(Content Moderated: the generated image was flagged/,
    ],
    [
      'poll-task-not-found',
      'ProviderRejectedError',
      /task 6f1c2d3e-.* was not found or has expired \(BFL status "Task not found"\)/,
    ],
    ['poll-error', 'ProviderRejectedError', /failed while generating the image \(BFL status "Error"/],
  ];
  for (const [name, errorName, mentions] of terminal) {
    it(`${name} ends the task with ${errorName}`, async () => {
      const example = fixture(name);
      wire.respond(example);
      const error = await rejectionOf(poll());
      expectWireRequest(wire.onlyCall(), requestOf(example), { api_key: API_KEY, polling_url: POLLING_URL });
      expectNamedError(error, errorName);
      expect(error.message).toMatch(/^Flux \(Black Forest Labs\) /);
      expect(error.message).toMatch(mentions);
    });
  }

  // BFL's own API reference skill (black-forest-labs/skills, references/endpoints.md @ ab8b5eb)
  // documents the Error answer as {"status": "Error", "error": "<description>"}.
  it('Error: the reason BFL gives in its error field reaches the message', async () => {
    wire.respond(fixture('poll-error'));
    const error = await rejectionOf(poll());
    expect(error.message).toContain('Error description');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RETRYABLE_ERROR_NAMES } from '../../functions/core/errors.ts';
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
  filePart,
  loadFixture,
  minimalGlb,
  type RecordedCall,
  rejectionOf,
  requestOf,
  setEnvironment,
  type Wire,
} from '../support/wire.ts';

/**
 * Tripo API v3 adapter against recorded examples written from Tripo's SDKs, its v2 error tables
 * and tryAGI's schema kept from Tripo's v3 docs (test/fixtures/providers/tripo): the exact
 * create requests of text-, image- and multiview-to-model and of re-texturing (with their
 * uploads), every task status a poll can read, the result download, and which failures may be
 * retried, above all that a task creation is never sent twice after an indeterminate failure.
 */

const API_KEY = 'tsk_wire_test';
const BASE = 'https://openapi.tripo3d.ai/v3';
const TASK_ID = '0196f4ce-82a8-7c3a-9d2e-5b1f0a6c4e21';
const fixture = (name: string) => loadFixture('tripo', name);
const isRetried = (error: Error) => (RETRYABLE_ERROR_NAMES as readonly string[]).includes(error.name);

// ---- Storage: refine-model reads its model with the platform fetch, not the provider edge ----

/** Files the stand-in for Supabase Storage serves, by path. */
const STORAGE_FILES = new Map<string, { bytes: Buffer; type: string }>();
const storageRequests: string[] = [];
let storage: Server;
let supabase: string;
const asset = (name: string) => `${supabase}/storage/v1/object/public/makeit3d-app-assets/inputs/${name}`;

let restoreEnvironment: () => void;
beforeAll(async () => {
  storage = createServer((request, response) => {
    storageRequests.push(`${request.method} ${request.url}`);
    const file = STORAGE_FILES.get(request.url ?? '');
    if (request.method !== 'GET' || !file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'content-length': String(file.bytes.length) });
    response.end(file.bytes);
  });
  await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
  supabase = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  restoreEnvironment = setEnvironment({
    TRIPO_API_KEY: API_KEY,
    TRIPO_API_KEY_SECRET_ARN: undefined,
    TRIPO_BASE_URL: undefined,
    // The stage overrides of the default models: the wire must show the shipped defaults.
    TRIPO_MODEL: undefined,
    TRIPO_TEXTURE_MODEL: undefined,
    PROVIDER_TIMEOUT_SECONDS: undefined,
    SUPABASE_URL: supabase,
    SUPABASE_BUCKET: undefined,
  });
});
afterAll(async () => {
  restoreEnvironment();
  storage.closeAllConnections();
  await new Promise((resolve) => storage.close(resolve));
});

let wire: Wire;
beforeEach(() => {
  wire = createWire();
  storageRequests.length = 0;
});
afterEach(() => wire.assertComplete());

// ---- Running the adapter ----

function tripoEntry(operation: string): AsyncProviderOperation {
  const entry = operationEntry(operation, 'tripo');
  if (entry.mode !== 'async') throw new Error(`${operation} with tripo should be asynchronous`);
  return entry;
}

/** Validates the request as the API does, then submits it with the fake provider edge. */
function submit(
  operation: string,
  body: Record<string, unknown>,
  inputs: FetchedInput[] = [],
  fetcher?: typeof fetch,
) {
  const { entry, params } = validateGeneration(operation, body);
  expect(entry).toBe(tripoEntry(operation));
  if (entry.mode !== 'async') throw new Error(`${operation} with tripo should be asynchronous`);
  return withProviderFetch(fetcher ?? wire.fetch, () =>
    entry.submit(params, inputs, { tenantId: 'tenant-wire' }),
  );
}

/** Polls the task the created fixtures answer. */
function poll(): Promise<PollOutcome> {
  const state = { task_id: TASK_ID, endpoint: '/generation/text-to-model' };
  return withProviderFetch(wire.fetch, () =>
    tripoEntry('text-to-model').poll(state, { tenantId: 'tenant-wire' }),
  );
}

async function pngInput(index: number, view: string): Promise<FetchedInput> {
  return fetchedInput(
    `input_image_asset_urls[${index}]`,
    asset(`${view}.png`),
    await makePhotoFile('png', 64, 64, { seed: index + 1 }),
    'image/png',
  );
}

const bindings = { api_key: API_KEY, task_id: TASK_ID };

/** The guide's text-to-model example, model_version left to the configured default. */
const TEXT_TO_MODEL = {
  task_id: 'task-workspace-xyz789',
  provider: 'tripo',
  prompt: 'A medieval castle with tall towers',
  style: 'realistic',
  texture: true,
  pbr: false,
  face_limit: 10000,
  auto_size: true,
  texture_quality: 'standard',
};

describe('Tripo wire contract: the catalogue', () => {
  it('serves exactly the operations these wire tests cover', () => {
    const served = servedOperations().filter((operation) => providersOf(operation).includes('tripo'));
    expect(served.sort()).toEqual(['image-to-model', 'refine-model', 'text-to-model']);
  });
});

describe('Tripo wire contract: creating tasks', () => {
  it('text-to-model posts the guide example with model v3.1-20260211 and only the fields the client set', async () => {
    const example = fixture('text-to-model');
    wire.respond(example);
    const created = await submit('text-to-model', TEXT_TO_MODEL);

    expectWireRequest(wire.onlyCall(), requestOf(example), bindings);
    expect(created).toStrictEqual({
      providerJobId: TASK_ID,
      state: { task_id: TASK_ID, endpoint: '/generation/text-to-model' },
      sent: {
        tripo_endpoint: '/generation/text-to-model',
        model: 'v3.1-20260211',
        model_from: 'TRIPO_MODEL',
        style: 'realistic: not sent (no stylisation)',
      },
    });
  });

  it('image-to-model with one image uploads it as front.png, then creates with its file_token as input', async () => {
    const upload = fixture('files-upload-front-png');
    const example = fixture('image-to-model');
    const front = await pngInput(0, 'front');
    wire
      .respond(upload, { method: 'POST', url: `${BASE}/files` })
      .respond(example, { method: 'POST', url: `${BASE}/generation/image-to-model` });
    const created = await submit(
      'image-to-model',
      {
        task_id: 'task-workspace-ghi789',
        provider: 'tripo',
        input_image_asset_urls: [front.url],
        prompt: 'Make it more detailed',
      },
      [front],
    );

    expect(wire.calls).toHaveLength(2);
    const [uploadCall, createCall] = wire.calls as [RecordedCall, RecordedCall];
    expectWireRequest(uploadCall, requestOf(upload), bindings);
    expect(filePart(uploadCall, 'file').bytes.equals(front.bytes)).toBe(true);
    expectWireRequest(createCall, requestOf(example), bindings);
    expect(created).toStrictEqual({
      providerJobId: TASK_ID,
      state: { task_id: TASK_ID, endpoint: '/generation/image-to-model' },
      sent: {
        tripo_endpoint: '/generation/image-to-model',
        views: ['front'],
        model: 'v3.1-20260211',
        model_from: 'TRIPO_MODEL',
        prompt: 'not sent (Tripo takes no prompt for image input)',
      },
    });
  });

  it('image-to-model with a front and a back view uploads both, then creates a view-keyed multiview task', async () => {
    const uploadFront = fixture('files-upload-front-png');
    const uploadBack = fixture('files-upload-back-png');
    const example = fixture('multiview-to-model');
    const front = await pngInput(0, 'front');
    const back = await pngInput(2, 'back');
    wire
      .respond(uploadFront, { method: 'POST', url: `${BASE}/files` })
      .respond(uploadBack, { method: 'POST', url: `${BASE}/files` })
      .respond(example, { method: 'POST', url: `${BASE}/generation/multiview-to-model` });
    const created = await submit(
      'image-to-model',
      {
        task_id: 'task-workspace-mv001',
        provider: 'tripo',
        // Front, left, back, right: a missing left view keeps the back view in its place.
        input_image_asset_urls: [front.url, null, back.url],
      },
      [front, back],
    );

    expect(wire.calls).toHaveLength(3);
    const [frontCall, backCall, createCall] = wire.calls as [RecordedCall, RecordedCall, RecordedCall];
    expectWireRequest(frontCall, requestOf(uploadFront), bindings);
    expect(filePart(frontCall, 'file').bytes.equals(front.bytes)).toBe(true);
    expectWireRequest(backCall, requestOf(uploadBack), bindings);
    expect(filePart(backCall, 'file').bytes.equals(back.bytes)).toBe(true);
    expectWireRequest(createCall, requestOf(example), bindings);
    expect(created.sent).toStrictEqual({
      tripo_endpoint: '/generation/multiview-to-model',
      views: ['front', 'back'],
      model: 'v3.1-20260211',
      model_from: 'TRIPO_MODEL',
    });
  });

  it('refine-model reads the GLB from storage, uploads it as model.glb and re-textures it with the prompt', async () => {
    const upload = fixture('files-upload-model-glb');
    const example = fixture('models-texture');
    const model = minimalGlb();
    const url = asset('castle.glb');
    STORAGE_FILES.set(new URL(url).pathname, { bytes: model, type: 'model/gltf-binary' });
    wire
      .respond(upload, { method: 'POST', url: `${BASE}/files` })
      .respond(example, { method: 'POST', url: `${BASE}/models/texture` });
    const created = await submit('refine-model', {
      task_id: 'task-workspace-mno345',
      provider: 'tripo',
      input_model_asset_url: url,
      prompt: 'Make it look more weathered and ancient',
      draft_model_task_id: 'tripo_task_prev_abc',
      texture: true,
      pbr: true,
      texture_quality: 'detailed',
      model_version: 'v2.5-20250123',
      face_limit: 20000,
      auto_size: true,
    });

    // The model came from storage over the platform fetch; Tripo saw only the upload and the task.
    expect(storageRequests).toEqual([`GET ${new URL(url).pathname}`]);
    expect(wire.calls).toHaveLength(2);
    const [uploadCall, createCall] = wire.calls as [RecordedCall, RecordedCall];
    expectWireRequest(uploadCall, requestOf(upload), bindings);
    expect(filePart(uploadCall, 'file').bytes.equals(model)).toBe(true);
    expectWireRequest(createCall, requestOf(example), bindings);
    expect(created).toStrictEqual({
      providerJobId: TASK_ID,
      state: { task_id: TASK_ID, endpoint: '/models/texture' },
      sent: {
        tripo_endpoint: '/models/texture',
        model: 'v3.0-20250812',
        model_from: 'TRIPO_TEXTURE_MODEL',
        input_from: 'input_model_asset_url uploaded to Tripo (not a model this service produced with Tripo)',
        operation_meaning: 're-texture guided by prompt (Tripo retired geometry refinement on 2026-10-31)',
        draft_model_task_id: 'ignored: the model is resolved from input_model_asset_url',
        not_sent: ['model_version', 'face_limit', 'auto_size'],
        not_sent_reason: 're-texturing keeps the geometry',
      },
    });
  });

  it('refine-model refuses a storage file that is not a GLB before anything reaches Tripo', async () => {
    const url = asset('not-a-model.glb');
    STORAGE_FILES.set(new URL(url).pathname, {
      bytes: await makePhotoFile('png', 32, 32, { seed: 3 }),
      type: 'model/gltf-binary',
    });
    const error = await rejectionOf(
      submit('refine-model', {
        task_id: 'refine-not-glb',
        provider: 'tripo',
        input_model_asset_url: url,
        prompt: 'Bronze',
      }),
    );
    // Input errors name the field first, as every input_* error of the API does.
    expect(error.name).toBe('InputInvalidError');
    expect(error.message).toBe(
      'input_model_asset_url must be a GLB model (binary glTF) for Tripo re-texturing',
    );
    expect(wire.calls).toHaveLength(0);
  });
});

describe('Tripo wire contract: refusals and failures on create', () => {
  const cases: [fixture: string, errorName: string, retried: boolean, message: string | RegExp][] = [
    [
      'error-401-unauthorized',
      'ProviderRejectedError',
      false,
      "Tripo refused the BFF's credentials (HTTP 401): code 1002: Authentication failed: Check if your credentials is valid, and ensure you set it correctly; the service's provider key must be fixed, retrying will not help",
    ],
    [
      'error-403-not-enough-credit',
      'ProviderRejectedError',
      false,
      "Tripo refused the task because the service's account has not enough credit (code 2010: You don't have enough credit to create this task: Please purchase more credit); retrying will not help until credit is added",
    ],
    [
      'error-429-concurrency-limit',
      'ProviderRateLimitedError',
      true,
      'Tripo rate limit reached (HTTP 429): code 2000: You have exceeded the limit of generation: Try again later. You can also check `Retry-After` header.; retrying later may help',
    ],
    [
      'error-429-rate-limit',
      'ProviderRateLimitedError',
      true,
      "Tripo rate limit reached (HTTP 429): code 1007: Rate limit exceeded, you've generated too many requests in a short amount of time: Please wait for a while and try again; retrying later may help",
    ],
    [
      'error-503-unavailable',
      'ProviderUnavailableError',
      true,
      /^Tripo is unavailable \(HTTP 503\).*retrying may help$/,
    ],
    [
      'error-500-on-create',
      'ProviderOutcomeUnknownError',
      false,
      'Tripo may or may not have created the task (it answered HTTP 500 after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    ],
    [
      'error-408-on-create',
      'ProviderOutcomeUnknownError',
      false,
      'Tripo may or may not have created the task (it answered HTTP 408 after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    ],
    [
      'error-425-on-create',
      'ProviderOutcomeUnknownError',
      false,
      'Tripo may or may not have created the task (it answered HTTP 425 after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    ],
    [
      'error-502-bad-gateway',
      'ProviderOutcomeUnknownError',
      false,
      'Tripo may or may not have created the task (it answered HTTP 502 after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    ],
    [
      'error-504-gateway-timeout',
      'ProviderOutcomeUnknownError',
      false,
      'Tripo may or may not have created the task (it answered HTTP 504 after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    ],
    [
      'error-400-version-deprecated',
      'ProviderRejectedError',
      false,
      "Tripo no longer accepts the model 'v3.1-20260211' (code 2015: The version has been deprecated: Try higher version please); set TRIPO_MODEL to a current Tripo model; retrying will not help",
    ],
    [
      'error-400-content-policy',
      'ContentModeratedError',
      false,
      /^Tripo refused this request under its content policy \(code 2008: The input is rejected due to violation of content policy/,
    ],
    [
      'error-404-unknown-route',
      'ProviderRejectedError',
      false,
      `Tripo does not serve /generation/text-to-model at TRIPO_BASE_URL=${BASE} (HTTP 404): the endpoint is retired or the base URL is wrong; retrying will not help`,
    ],
  ];

  for (const [name, errorName, retried, message] of cases) {
    it(`${name} fails the task with ${errorName} (${retried ? 'retried' : 'not retried'})`, async () => {
      wire.respond(fixture(name));
      const error = await rejectionOf(submit('text-to-model', TEXT_TO_MODEL));
      expectNamedError(error, errorName);
      if (typeof message === 'string') expect(error.message).toBe(message);
      else expect(error.message).toMatch(message);
      expect(isRetried(error)).toBe(retried);
      expect(wire.calls).toHaveLength(1);
    });
  }

  /** A fetch whose connection fails with `code`, counting the attempts. */
  function failingConnection(code: string): { fetch: typeof fetch; attempts: () => number } {
    let attempts = 0;
    return {
      fetch: async () => {
        attempts++;
        throw new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });
      },
      attempts: () => attempts,
    };
  }

  it('a connection reset after the create was sent is an unknown outcome: not re-sent, not retried', async () => {
    const connection = failingConnection('ECONNRESET');
    const error = await rejectionOf(submit('text-to-model', TEXT_TO_MODEL, [], connection.fetch));
    expectNamedError(error, 'ProviderOutcomeUnknownError');
    expect(error.message).toBe(
      'Tripo may or may not have created the task (the connection failed or timed out after the request was sent); it was not sent again, so it is never paid twice; submitting the request again may help',
    );
    expect(isRetried(error)).toBe(false);
    expect(connection.attempts()).toBe(1);
  });

  it('a refused connection never reached Tripo, so the create may be retried', async () => {
    const connection = failingConnection('ECONNREFUSED');
    const error = await rejectionOf(submit('text-to-model', TEXT_TO_MODEL, [], connection.fetch));
    expectNamedError(error, 'ProviderUnavailableError');
    expect(isRetried(error)).toBe(true);
    expect(connection.attempts()).toBe(1);
  });
});

describe('Tripo wire contract: polling', () => {
  const pending: [fixture: string, progress: number][] = [
    ['task-queued', 0],
    ['task-running', 45],
    // 100 only once the model is stored: a running task at 100 is still shown as 99.
    ['task-running-progress-100', 99],
  ];
  for (const [name, progress] of pending) {
    it(`${name}: GET /tasks/{id} with the key reads as pending at ${progress}%`, async () => {
      const example = fixture(name);
      wire.respond(example);
      const outcome = await poll();

      expectWireRequest(wire.onlyCall(), requestOf(example), bindings);
      expect(outcome).toStrictEqual({ status: 'pending', progress });
    });
  }

  it('success: downloads output.model_url at once, without the API key, and keeps credits_consumed', async () => {
    const success = fixture('task-success');
    const download = fixture('result-download');
    const modelUrl = (success.response.body as { data: { output: { model_url: string } } }).data.output
      .model_url;
    wire
      .respond(success, { method: 'GET', url: `${BASE}/tasks/${TASK_ID}` })
      .respond(download, { method: 'GET', url: modelUrl });
    const outcome = await poll();

    expect(wire.calls).toHaveLength(2);
    const [pollCall, downloadCall] = wire.calls as [RecordedCall, RecordedCall];
    expectWireRequest(pollCall, requestOf(success), bindings);
    expectWireRequest(downloadCall, requestOf(download), { model_url: modelUrl });
    expect(outcome).toStrictEqual({
      status: 'done',
      files: [{ bytes: minimalGlb(), contentType: 'model/gltf-binary', extension: 'glb' }],
      sent: { credits_consumed: 30 },
    });
  });

  const terminal: [fixture: string, errorName: string, message: string][] = [
    [
      'task-failed',
      'ProviderRejectedError',
      `Tripo failed to make the model: task ${TASK_ID} (status "failed", error_code 1001, Fatal error on server side); submitting the request again may help`,
    ],
    [
      'task-failed-moderated',
      'ContentModeratedError',
      `Tripo refused this request under its content policy (task ${TASK_ID} (status "failed", error_code 2008, The input is rejected due to violation of content policy): the prompt or image violates Tripo's content policy); change the prompt or image before retrying`,
    ],
    [
      'task-failed-queue-expired',
      'JobDeadlineExceededError',
      `Tripo task ${TASK_ID} (status "failed", error_code 2018, The task expired in the queue before it started) timed out in Tripo's queue before starting; submitting the request again may help`,
    ],
    [
      'task-cancelled',
      'ProviderRejectedError',
      `Tripo cancelled task ${TASK_ID} (status "cancelled"); submitting the request again may help`,
    ],
    [
      'task-banned',
      'ContentModeratedError',
      `Tripo refused this request under its content policy (task ${TASK_ID} (status "banned"): the prompt or image violates Tripo's content policy); change the prompt or image before retrying`,
    ],
    [
      'task-expired',
      'JobDeadlineExceededError',
      `Tripo task ${TASK_ID} (status "expired") timed out in Tripo's queue before starting; submitting the request again may help`,
    ],
    [
      'task-undocumented-status',
      'ProviderRejectedError',
      `Tripo reported task ${TASK_ID} (status "suspended"), a status this service does not know; submitting the request again may help`,
    ],
    [
      'task-not-found',
      'ProviderRejectedError',
      'Tripo rejected the request (HTTP 404): code 2001: The task is not found: Check if the task is committed by you or whether the format is correct; retrying will not help',
    ],
  ];
  for (const [name, errorName, message] of terminal) {
    it(`${name} ends the task with ${errorName}`, async () => {
      const example = fixture(name);
      wire.respond(example);
      const error = await rejectionOf(poll());

      expectWireRequest(wire.onlyCall(), requestOf(example), bindings);
      expectNamedError(error, errorName);
      expect(error.message).toBe(message);
      expect(isRetried(error)).toBe(false);
    });
  }

  it('a 500 on a poll is retried: reading a task twice costs nothing', async () => {
    const example = fixture('error-500-on-poll');
    wire.respond(example);
    const error = await rejectionOf(poll());

    expectWireRequest(wire.onlyCall(), requestOf(example), bindings);
    expectNamedError(error, 'ProviderUnavailableError');
    expect(error.message).toBe(
      'Tripo is unavailable (HTTP 500): code 1000: Unknown error on sever side: Please contact the support with request id; retrying may help',
    );
    expect(isRetried(error)).toBe(true);
  });
});

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  MakeIt3DAuthenticationError,
  MakeIt3DClient,
  MakeIt3DConflictError,
  MakeIt3DNotFoundError,
  MakeIt3DTaskFailedError,
  MakeIt3DValidationError,
  uploadToStorage,
} from '@makeit3d/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetTripoSandbox } from '../../infra/local/sandbox/tripo.ts';
import {
  PNG_SIGNATURE,
  samplePng,
  startTestStack,
  TEST_KEY,
  type TestStack,
} from '../support/local-stack.ts';
import { holdTripoClock } from '../support/tripo-clock.ts';

/**
 * The typed client (clients/typescript) against the local stack over HTTP: a synchronous and an
 * asynchronous provider to their stored results, a failing task, a validation error, the
 * Idempotency-Key, an input uploaded to the stack's Storage, and the README's example, run as
 * it is printed there.
 */

let stack: TestStack;
let client: MakeIt3DClient;

beforeAll(async () => {
  // Real (short) Waits, so the client sees Tripo's task in progress.
  stack = await startTestStack({ waitMs: 100 });
  client = new MakeIt3DClient({ baseUrl: stack.url, apiKey: TEST_KEY });
});

afterAll(async () => {
  resetTripoSandbox();
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/openai/faults`, { method: 'DELETE' });
  await fetch(`${stack.url}/__sandbox/tripo/faults`, { method: 'DELETE' });
  resetTripoSandbox();
});

const fast = { pollIntervalMs: 50, timeoutMs: 120_000 };

describe('MakeIt3DClient against the local stack', () => {
  it('runs OpenAI text-to-image to a stored PNG', async () => {
    const submitted = await client.textToImage({
      task_id: 'client-e2e-1',
      provider: 'openai',
      prompt: 'A violet cartoon flying elephant',
      n: 2,
    });
    expect(submitted).toMatchObject({ task_id: 'client-e2e-1', status: 'pending', replayed: false });
    expect(submitted.jobId).toBe(submitted.celery_task_id);
    const result = await client.waitForResult(submitted, fast);
    expect(result.status).toMatchObject({
      status: 'complete',
      operation: 'text-to-image',
      provider: 'openai',
    });
    expect(result.assetUrls).toHaveLength(2);
    const { bytes, contentType } = await client.download(result.assetUrls[0] as string);
    expect(contentType).toBe('image/png');
    expect(Buffer.from(bytes.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect(await client.getStatus(submitted.jobId)).toEqual(result.status);
  });

  it('waits for a Tripo model, reporting its progress, to a stored GLB', async () => {
    // The simulator's clock moves only when this test says: half-way once the task exists, to the
    // end once the client has reported that progress (no dependence on the machine's speed).
    const clock = holdTripoClock();
    const submitted = await client.textToModel({
      task_id: 'client-e2e-tripo',
      provider: 'tripo',
      prompt: 'a small wooden robot',
      texture: true,
    });
    await clock.created('text-to-model');
    clock.toHalfway();
    const seen: { status: string; progress: number | null }[] = [];
    const result = await client.waitForResult(submitted.jobId, {
      ...fast,
      onProgress: ({ status, progress }) => {
        seen.push({ status, progress });
        if (progress !== null && progress > 0 && progress < 100) clock.toEnd();
      },
    });
    const progress = seen.map((entry) => entry.progress).filter((value): value is number => value !== null);
    expect(progress.some((value) => value > 0 && value < 100)).toBe(true);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(seen.at(-1)).toEqual({ status: 'complete', progress: 100 });
    const { bytes } = await client.download(result.assetUrls[0] as string);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('glTF');
  });

  it('rejects a failed task with its error and error_code', async () => {
    await stack.fault('openai', { moderated: true });
    const submitted = await client.textToImage({
      task_id: 'client-e2e-moderated',
      provider: 'openai',
      prompt: 'something the provider refuses',
    });
    const error = await client.waitForResult(submitted, fast).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MakeIt3DTaskFailedError);
    const failed = error as MakeIt3DTaskFailedError;
    expect(failed.errorCode).toBe('content_moderated');
    expect(failed.detail).toBe(failed.task.error);
    expect(failed.task).toMatchObject({ status: 'failed', error_code: 'content_moderated' });
  });

  it('throws a typed 400 naming the field', async () => {
    const error = await client
      .textToImage({ task_id: 'client-e2e-invalid', provider: 'openai', prompt: 'a cat', n: 9 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MakeIt3DValidationError);
    expect(error).toMatchObject({
      status: 400,
      detail: 'Invalid request: n must be an integer between 1 and 4',
      errors: [{ field: 'n', message: 'must be an integer between 1 and 4' }],
    });
    expect((error as MakeIt3DValidationError).requestId).toMatch(/\S/);
  });

  it('answers a repeat with the same Idempotency-Key with the first job, and refuses another body', async () => {
    const request = { task_id: 'client-e2e-idem', provider: 'openai', prompt: 'one elephant' } as const;
    const first = await client.textToImage(request, { idempotencyKey: 'client-e2e-key-1' });
    const repeat = await client.textToImage(request, { idempotencyKey: 'client-e2e-key-1' });
    expect(first.replayed).toBe(false);
    expect(repeat.replayed).toBe(true);
    expect(repeat.jobId).toBe(first.jobId);
    const other = await client
      .textToImage({ ...request, prompt: 'two elephants' }, { idempotencyKey: 'client-e2e-key-1' })
      .catch((caught: unknown) => caught);
    expect(other).toBeInstanceOf(MakeIt3DConflictError);
    expect(other).toMatchObject({
      status: 409,
      detail: 'Idempotency-Key was already used with a different request body',
    });
    await client.waitForResult(first, fast);
  });

  it('edits an input uploaded to Storage as an app does', async () => {
    const url = await uploadToStorage(
      { supabaseUrl: stack.url, anonKey: 'local-anon-key' },
      'uploads/client-e2e/input.png',
      await samplePng(128, 128),
      'image/png',
    );
    expect(url).toBe(
      `${stack.url}/storage/v1/object/public/makeit3d-app-assets/uploads/client-e2e/input.png`,
    );
    const result = await client.run(
      'image-to-image',
      { task_id: 'client-e2e-edit', provider: 'openai', prompt: 'make it blue', input_image_asset_url: url },
      fast,
    );
    expect(result.status.status).toBe('complete');
    expect(result.submitted.operation).toBe('image-to-image');
  });
});

describe('registration and health through the client', () => {
  it('registers a key that then works, and types a wrong secret as a 401', async () => {
    const anonymous = new MakeIt3DClient({ baseUrl: stack.url });
    expect(await anonymous.health()).toEqual({ status: 'healthy' });
    const registered = await anonymous.register({
      verification_secret: stack.registrationSecret,
      tenant_type: 'custom',
      tenant_identifier: 'client-e2e-tenant',
    });
    expect(registered).toMatchObject({ tenant_id: 'client-e2e-tenant', tenant_type: 'custom' });
    expect(registered.api_key).toMatch(/^makeit3d_test_sk_custom_/);
    const tenant = new MakeIt3DClient({ baseUrl: stack.url, apiKey: registered.api_key });
    // Another tenant's job is not found (docs/api.md, Authentication and tenants).
    const first = await client.textToImage({ task_id: 'client-e2e-other', provider: 'openai', prompt: 'x' });
    await expect(tenant.getStatus(first.jobId)).rejects.toBeInstanceOf(MakeIt3DNotFoundError);
    const refused = await anonymous
      .register({ verification_secret: 'wrong', tenant_type: 'custom', tenant_identifier: 'x' })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(MakeIt3DAuthenticationError);
    expect(refused).toMatchObject({ status: 401, detail: 'Invalid verification secret. Access denied.' });
    await client.waitForResult(first, fast);
  });
});

describe('clients/typescript/README.md', () => {
  it('shows examples/quickstart.ts verbatim, and that example runs against the stack', async () => {
    const readme = readFileSync(new URL('../../clients/typescript/README.md', import.meta.url), 'utf8');
    const example = readFileSync(
      new URL('../../clients/typescript/examples/quickstart.ts', import.meta.url),
      'utf8',
    );
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(example);

    // Run as a user runs it: plain Node (it strips the types itself), the package by its name.
    const child = spawn(
      process.execPath,
      [new URL('../../clients/typescript/examples/quickstart.ts', import.meta.url).pathname],
      {
        env: { ...process.env, MAKEIT3D_BASE_URL: stack.url, MAKEIT3D_API_KEY: TEST_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^job readme-example-\S+ \(Idempotency-Key [0-9a-f-]{36}\)$/m);
    expect(stdout).toMatch(/^complete $/m);
    expect(stdout).toContain(`result: ${stack.url}/storage/v1/object/public/makeit3d-app-assets/`);
  });
});

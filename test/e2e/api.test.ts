import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PNG_SIGNATURE,
  samplePng,
  startTestStack,
  TEST_KEY,
  type TestStack,
} from '../support/local-stack.ts';

/** The API as a client of the guide uses it, over HTTP against `npm start`'s stack. */

let stack: TestStack;
let inputUrl: string;

beforeAll(async () => {
  stack = await startTestStack();
  inputUrl = await stack.upload('uploads/e2e/input.png', await samplePng(), 'image/png');
});

afterAll(async () => {
  await stack.stop();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('health', () => {
  it('answers /health and /auth/health without a key', async () => {
    const health = await stack.call('/health', { apiKey: null });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'healthy' });
    expect(health.headers.get('x-request-id')).toMatch(/\S+/);
    const auth = await stack.call('/auth/health', { apiKey: null });
    expect(await auth.json()).toEqual({ status: 'healthy', service: 'auth' });
  });
});

describe('authentication', () => {
  const body = { task_id: 'auth-1', provider: 'openai', prompt: 'a cube' };

  it('rejects a missing key with 401 and a challenge', async () => {
    const response = await stack.call('/generation/text-to-image', { body, apiKey: null });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('ApiKey');
    expect(await response.json()).toEqual({ detail: 'Missing API key' });
  });

  it('rejects an unknown key with 401', async () => {
    const response = await stack.call('/tasks/whatever/status', { apiKey: 'makeit3d_test_sk_custom_nope' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('ApiKey');
    expect(await response.json()).toEqual({ detail: 'Invalid or inactive API key' });
  });

  it('checks the key before validating the body', async () => {
    const response = await stack.call('/generation/text-to-image', { body: '{not json', apiKey: null });
    expect(response.status).toBe(401);
  });
});

describe('registration', () => {
  const valid = {
    verification_secret: 'local-registration-secret',
    tenant_type: 'shopify',
    tenant_identifier: 'my-store.myshopify.com',
    tenant_name: 'My Store',
    metadata: { plan: 'basic' },
  };

  it('refuses a wrong secret with the exact body', async () => {
    const response = await stack.call('/auth/register', {
      body: { ...valid, verification_secret: 'nope' },
      apiKey: null,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ detail: 'Invalid verification secret. Access denied.' });
  });

  it('refuses a Shopify identifier that is not a myshopify.com domain', async () => {
    const response = await stack.call('/auth/register', {
      body: { ...valid, tenant_identifier: 'example.com' },
      apiKey: null,
    });
    expect(response.status).toBe(400);
    expect((await json(response)).detail).toBe(
      'Shopify tenant_identifier must be a valid .myshopify.com domain',
    );
  });

  it('names the allowed tenant types', async () => {
    const response = await stack.call('/auth/register', {
      body: { ...valid, tenant_type: 'partner' },
      apiKey: null,
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body.errors).toEqual([
      { field: 'tenant_type', message: 'must be one of: shopify, supabase_app, custom, development' },
    ]);
  });

  it('issues a working key, keeps earlier keys valid, and isolates tenants', async () => {
    const first = await stack.call('/auth/register', { body: valid, apiKey: null });
    expect(first.status).toBe(201);
    const registered = await json(first);
    expect(registered).toMatchObject({
      tenant_id: 'my-store.myshopify.com',
      tenant_type: 'shopify',
      message: 'API key successfully registered for shopify tenant: my-store.myshopify.com',
    });
    const apiKey = String(registered.api_key);
    expect(apiKey).toMatch(/^makeit3d_test_sk_shopify_[A-Za-z0-9_-]{32,}$/);

    const second = await json(await stack.call('/auth/register', { body: valid, apiKey: null }));
    expect(second.api_key).not.toBe(apiKey);

    const submitted = await stack.call('/generation/text-to-image', {
      body: { task_id: 'tenant-a-1', provider: 'openai', prompt: 'a red chair' },
      apiKey,
    });
    expect(submitted.status).toBe(202);
    const { celery_task_id: jobId } = await json(submitted);
    const done = await stack.waitForTask(String(jobId), String(second.api_key));
    expect(done.status).toBe('complete');
    expect(String(done.asset_url)).toContain('/my-store.myshopify.com/tenant-a-1/');

    const foreign = await stack.call(`/tasks/${String(jobId)}/status`, { apiKey: TEST_KEY });
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toEqual({ detail: 'Task not found' });
  });
});

describe('malformed requests', () => {
  it('answers invalid JSON with 400', async () => {
    const response = await stack.call('/generation/text-to-image', { body: '{"task_id": ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail: 'Request body must be valid JSON' });
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const response = await stack.call('/generation/text-to-image', { body: '[1,2]' });
    expect(response.status).toBe(400);
    expect((await json(response)).detail).toBe('Request body must be a JSON object');
  });

  it('answers an empty body with 400', async () => {
    const response = await stack.call('/generation/text-to-image', { method: 'POST' });
    expect(response.status).toBe(400);
  });

  it('answers a body over 1 MiB with 413', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'big', provider: 'openai', prompt: 'x'.repeat(1024 * 1024 + 10) },
    });
    expect(response.status).toBe(413);
    expect((await json(response)).detail).toMatch(/1 MiB/);
  });

  it('answers an unknown route with 404 and a wrong method with 405', async () => {
    const missing = await stack.call('/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: 'Not found' });
    const wrongMethod = await stack.call('/generation/text-to-image');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('answers an operation that does not exist with 404', async () => {
    const response = await stack.call('/generation/make-coffee', {
      body: { task_id: 'x', provider: 'openai' },
    });
    expect(response.status).toBe(404);
    expect((await json(response)).detail).toMatch(/^Unknown operation 'make-coffee'/);
  });

  it('answers a provider outside the operation with the contract sentence', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'x', provider: 'flux', prompt: 'p' },
    });
    expect(response.status).toBe(400);
    expect((await json(response)).detail).toMatch(
      /^Unsupported provider 'flux' for text-to-image\. Supported providers: /,
    );
  });

  it('lists every invalid field with what is allowed', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'bad id!', provider: 'openai', prompt: 'p', n: 9, size: '10x10', style: 'loud' },
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    const fields = (body.errors as { field: string }[]).map((issue) => issue.field).sort();
    expect(fields).toEqual(['n', 'size', 'style', 'task_id']);
    expect(String(body.detail)).toContain('n must be an integer between 1 and 4');
  });

  it('refuses input URLs outside the configured Supabase project', async () => {
    const response = await stack.call('/generation/image-to-image', {
      body: {
        task_id: 'x',
        provider: 'openai',
        prompt: 'p',
        input_image_asset_url: 'https://evil.example/a.png',
      },
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body.errors).toEqual([
      {
        field: 'input_image_asset_url',
        message: expect.stringContaining(`${stack.url}/storage/v1/object/public/`),
      },
    ]);
  });

  it('refuses an unknown status service', async () => {
    const response = await stack.call('/tasks/anything/status?service=stability');
    expect(response.status).toBe(400);
  });
});

describe('generation with OpenAI', () => {
  it('runs the guide text-to-image example to completion', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: {
        task_id: 'task-workspace-def456',
        provider: 'openai',
        prompt: 'A violet cartoon flying elephant with big ears',
        style: 'vivid',
        n: 1,
        size: '1024x1024',
        quality: 'standard',
      },
    });
    expect(response.status).toBe(202);
    const accepted = await json(response);
    const jobId = String(accepted.celery_task_id);
    expect(accepted).toEqual({
      celery_task_id: jobId,
      task_id: 'task-workspace-def456',
      status: 'pending',
      status_url: `/tasks/${jobId}/status`,
    });
    expect(jobId.startsWith('task-workspace-def456-')).toBe(true);

    const done = await stack.waitForTask(jobId);
    expect(done).toMatchObject({
      task_id: jobId,
      status: 'complete',
      error: null,
      progress: null,
      client_task_id: 'task-workspace-def456',
      operation: 'text-to-image',
      provider: 'openai',
    });
    const image = await fetch(String(done.asset_url));
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await image.arrayBuffer())
        .subarray(0, 8)
        .equals(PNG_SIGNATURE),
    ).toBe(true);

    const sent = await stack.sandboxRequests('openai');
    const last = sent.filter((request) => request.path === '/v1/images/generations').at(-1);
    // Translated for today's GPT image model: one request, quality standard → medium, style in the prompt.
    expect(last?.fields).toEqual({
      model: 'gpt-image-2.6-flare',
      prompt: 'A violet cartoon flying elephant with big ears Style: vivid.',
      n: 1,
      size: '1024x1024',
      quality: 'medium',
    });
    const forThisTask = sent.filter(
      (request) =>
        request.path === '/v1/images/generations' && String(request.fields.prompt).includes('violet cartoon'),
    );
    expect(forThisTask).toHaveLength(1);
  });

  it('walks the README flow: upload, image-to-image with n=2, poll, download', async () => {
    const response = await stack.call('/generate/image-to-image', {
      body: {
        task_id: 'task-workspace-abc123',
        provider: 'openai',
        prompt: 'A futuristic cityscape at dusk',
        input_image_asset_url: inputUrl,
        style: 'vivid',
        background: 'transparent',
        n: 2,
        size: '1024x1024',
        quality: 'standard',
      },
    });
    expect(response.status).toBe(202);
    const { celery_task_id: jobId } = await json(response);
    const done = await stack.waitForTask(String(jobId));
    expect(done.status).toBe('complete');
    const urls = done.asset_urls as string[];
    expect(urls).toHaveLength(2);
    expect(urls[0]).toBe(done.asset_url);
    for (const [index, url] of urls.entries()) {
      expect(url).toMatch(
        new RegExp(`/development_tenant/task-workspace-abc123/${String(jobId)}/${index}\\.png$`),
      );
      const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
      expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
    const rows = (await (
      await fetch(`${stack.url}/rest/v1/concept_images?job_id=eq.${String(jobId)}`)
    ).json()) as Record<string, unknown>[];
    expect(rows.map((row) => [row.result_index, row.status, row.asset_url])).toEqual([
      [0, 'complete', urls[0]],
      [1, 'complete', urls[1]],
    ]);
    expect(rows[0]).toMatchObject({
      task_id: 'task-workspace-abc123',
      tenant_id: 'development_tenant',
      prompt: 'A futuristic cityscape at dusk',
    });
    // n images in one request, on today's editing model; transparency forces PNG.
    const edits = (await stack.sandboxRequests('openai')).filter(
      (request) => request.path === '/v1/images/edits',
    );
    expect(edits.at(-1)?.fields).toEqual({
      model: 'gpt-image-2.6-sunburst',
      prompt: 'A futuristic cityscape at dusk Style: vivid.',
      n: '2',
      size: '1024x1024',
      quality: 'medium',
      background: 'transparent',
      output_format: 'png',
    });
    expect(rows[0]?.metadata).toMatchObject({
      sent: {
        model: 'gpt-image-2.6-sunburst',
        model_from: 'OPENAI_IMAGE_TO_IMAGE_MODEL',
        quality: 'medium',
        quality_translated_from: 'standard',
        output_format: 'png',
      },
    });
  });

  it('fails at once, without a retry, when OpenAI answers that the model is gone, naming the setting', async () => {
    await stack.fault('openai', { outcome: 'model_shut_down' });
    const before = (await stack.sandboxRequests('openai')).length;
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'retired-model', provider: 'openai', prompt: 'a lamp' },
    });
    const done = await stack.waitForTask(String((await json(response)).celery_task_id));
    expect(done).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    expect(String(done.error)).toMatch(
      /does not serve the model 'gpt-image-2\.6-flare' \(model_not_found.*set OPENAI_TEXT_TO_IMAGE_MODEL to a current OpenAI image model; retrying will not help/,
    );
    expect((await stack.sandboxRequests('openai')).length - before).toBe(1);
  });

  it('reports a missing input as failed with input_not_found', async () => {
    const response = await stack.call('/generation/image-to-image', {
      body: {
        task_id: 'missing-input',
        provider: 'openai',
        prompt: 'p',
        input_image_asset_url: `${stack.url}/storage/v1/object/public/makeit3d-app-assets/uploads/none.png`,
      },
    });
    const done = await stack.waitForTask(String((await json(response)).celery_task_id));
    expect(done).toMatchObject({ status: 'failed', error_code: 'input_not_found', asset_url: null });
    expect(String(done.error)).toMatch(/not found/);
  });
});

describe('Idempotency-Key', () => {
  const body = { task_id: 'idem-1', provider: 'openai', prompt: 'a lamp' };

  it('returns the same job for a repeat and 409 for a different body', async () => {
    const headers = { 'idempotency-key': 'key-123' };
    const first = await stack.call('/generation/text-to-image', { body, headers });
    expect(first.status).toBe(202);
    const firstBody = await json(first);
    const repeat = await stack.call('/generation/text-to-image', {
      body: { prompt: 'a lamp', provider: 'openai', task_id: 'idem-1' },
      headers,
    });
    expect(repeat.status).toBe(200);
    expect(await repeat.json()).toEqual(firstBody);
    const different = await stack.call('/generation/text-to-image', {
      body: { ...body, prompt: 'a table' },
      headers,
    });
    expect(different.status).toBe(409);
    await stack.waitForTask(String(firstBody.celery_task_id));
  });
});

describe('persistence', () => {
  it('keeps tasks and files across a restart of the stack', async () => {
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: 'survivor', provider: 'openai', prompt: 'a sturdy box' },
    });
    const jobId = String((await json(response)).celery_task_id);
    const before = await stack.waitForTask(jobId);
    const { dataDir } = stack;
    await stack.stop({ keepData: true });
    stack = await startTestStack({ dataDir });
    const after = await json(await stack.call(`/tasks/${jobId}/status`));
    expect(after.status).toBe('complete');
    const image = await fetch(String(after.asset_url));
    expect(image.status).toBe(200);
    expect(String(after.asset_url).split('/').slice(-4)).toEqual(
      String(before.asset_url).split('/').slice(-4),
    );
  });
});

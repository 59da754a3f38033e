import { afterEach, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

let stack: TestStack | undefined;

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

/** Fixed one-minute windows: start well inside one so the test cannot straddle two. */
async function awayFromMinuteBoundary(): Promise<void> {
  const secondsIntoMinute = (Date.now() / 1000) % 60;
  if (secondsIntoMinute > 50)
    await new Promise((resolve) => setTimeout(resolve, (61 - secondsIntoMinute) * 1000));
}

describe('per-tenant rate limits', () => {
  it('answers 429 with Retry-After over the limit, per tenant and per bucket', async () => {
    stack = await startTestStack({
      env: { RATE_LIMIT_GENERATION_PER_MINUTE: '2', RATE_LIMIT_STATUS_PER_MINUTE: '3' },
    });
    const registered = (await (
      await stack.call('/auth/register', {
        apiKey: null,
        body: {
          verification_secret: stack.registrationSecret,
          tenant_type: 'custom',
          tenant_identifier: 'other-app',
        },
      })
    ).json()) as { api_key: string };
    await awayFromMinuteBoundary();

    const body = { task_id: 'limit', provider: 'openai', prompt: 'x', size: 'huge' };
    // Validation failures count too: the limit protects the service, not only providers.
    expect((await stack.call('/generation/text-to-image', { body })).status).toBe(400);
    expect((await stack.call('/generation/text-to-image', { body })).status).toBe(400);
    const limited = await stack.call('/generation/text-to-image', { body });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ detail: 'Rate limit exceeded' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Another tenant has its own budget; status reads have their own bucket.
    expect((await stack.call('/generation/text-to-image', { body, apiKey: registered.api_key })).status).toBe(
      400,
    );
    for (let index = 0; index < 3; index++) expect((await stack.call('/tasks/none/status')).status).toBe(404);
    expect((await stack.call('/tasks/none/status')).status).toBe(429);
  });
});

describe('production stage', () => {
  it('never accepts the test key and issues live keys', async () => {
    stack = await startTestStack({
      env: { STAGE: 'production', REGISTRATION_SECRET: 'prod-secret-for-test' },
    });
    expect(stack.testApiKey).toBeUndefined();
    const refused = await stack.call('/tasks/anything/status');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ detail: 'Invalid or inactive API key' });
    const registered = await stack.call('/auth/register', {
      apiKey: null,
      body: {
        verification_secret: 'prod-secret-for-test',
        tenant_type: 'supabase_app',
        tenant_identifier: 'app-1',
      },
    });
    expect(registered.status).toBe(201);
    const { api_key: apiKey } = (await registered.json()) as { api_key: string };
    expect(apiKey).toMatch(/^makeit3d_live_sk_supabase_app_/);
    expect((await stack.call('/tasks/anything/status', { apiKey })).status).toBe(404);
  });
});

describe('private bucket', () => {
  it('answers signed URLs minted at read time, which download, and refuses a forged signature', async () => {
    stack = await startTestStack({
      env: { SUPABASE_BUCKET_PUBLIC: 'false', SUPABASE_SIGNED_URL_TTL_SECONDS: '120' },
    });
    const submitted = await stack.call('/generation/text-to-image', {
      body: { task_id: 'private-1', provider: 'openai', prompt: 'a private lamp' },
    });
    const { celery_task_id: jobId } = (await submitted.json()) as { celery_task_id: string };
    const done = await stack.waitForTask(jobId);
    const url = new URL(String(done.asset_url));
    expect(url.pathname).toMatch(
      /^\/storage\/v1\/object\/sign\/makeit3d-app-assets\/development_tenant\/private-1\//,
    );
    const token = url.searchParams.get('token') ?? '';
    expect(token).not.toBe('');
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    // A tampered signature is refused.
    url.searchParams.set('token', `${token.split('.')[0]}.forged`);
    expect((await fetch(url)).status).toBe(400);
  });
});

import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeApiKey } from '../../functions/core/auth/api-keys.ts';
import { startTestStack, TEST_KEY, type TestStack } from '../support/local-stack.ts';

/**
 * Trying to make a result land outside its tenant's folder, through the whole local stack: hostile
 * client task ids and tenant ids, real generations, and a look at where the objects were written
 * on disk (DATA_DIR/storage/objects/<bucket>/<key> and DATA_DIR/storage/meta/<bucket>/<key>.json).
 */

const BUCKET = 'makeit3d-app-assets';
const HASHED = '-[0-9a-f]{10}';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack.stop();
});

/** Every file under a folder, as paths relative to it with `/` separators. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

async function registerTenant(identifier: string): Promise<Response> {
  return stack.call('/auth/register', {
    apiKey: null,
    body: {
      verification_secret: stack.registrationSecret,
      tenant_type: 'custom',
      tenant_identifier: identifier,
    },
  });
}

/** A key for a tenant id registration refuses, put into the table the way registration would. */
async function keyForTenantStoredDirectly(tenantId: string): Promise<string> {
  const apiKey = `makeit3d_test_sk_custom_${randomBytes(24).toString('base64url')}`;
  await storeApiKey(apiKey, { tenant_id: tenantId, tenant_type: 'custom', tenant_name: null, metadata: {} });
  return apiKey;
}

describe('client task ids', () => {
  it.each(['../x', '%2e%2e'])('refuses task_id %j, naming the field', async (taskId) => {
    const response = await stack.call('/generation/text-to-image', {
      body: { task_id: taskId, provider: 'openai', prompt: 'a cube' },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { detail: string; errors: { field: string }[] };
    expect(body.detail).toMatch(/task_id/);
    expect(body.errors.map((issue) => issue.field)).toEqual(['task_id']);
  });
});

describe('tenant identifiers', () => {
  it.each(['..', '.'])('refuses to register tenant %j, naming the field', async (identifier) => {
    const response = await registerTenant(identifier);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      detail: "Invalid request: tenant_identifier must contain a character other than '.'",
      errors: [{ field: 'tenant_identifier', message: "must contain a character other than '.'" }],
    });
  });
});

describe('results of hostile task ids and tenants', () => {
  it('all land under <bucket>/<their tenant folder>/, and download from there', async () => {
    const registered = await registerTenant('a/b');
    expect(registered.status).toBe(201);
    const tenants = [
      { id: 'development_tenant', apiKey: TEST_KEY, folder: /^development_tenant$/ },
      {
        id: 'a/b',
        apiKey: ((await registered.json()) as { api_key: string }).api_key,
        folder: /^a_b-[0-9a-f]{10}$/,
      },
      // Registration refuses these two; a tenant id that got into the table some other way
      // (an older release, an operator) must still not escape.
      { id: '..', apiKey: await keyForTenantStoredDirectly('..'), folder: new RegExp(`^\\.\\.${HASHED}$`) },
      { id: '.', apiKey: await keyForTenantStoredDirectly('.'), folder: new RegExp(`^\\.${HASHED}$`) },
    ];
    const taskIds = [
      { id: '..', folder: new RegExp(`^\\.\\.${HASHED}$`) },
      { id: '.', folder: new RegExp(`^\\.${HASHED}$`) },
    ];

    const jobs = await Promise.all(
      tenants.flatMap((tenant) =>
        taskIds.map(async (taskId) => {
          const response = await stack.call('/generation/text-to-image', {
            apiKey: tenant.apiKey,
            body: { task_id: taskId.id, provider: 'openai', prompt: 'a small brass key' },
          });
          expect(response.status, `${tenant.id} ${taskId.id}`).toBe(202);
          const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
          return { tenant, taskId, jobId };
        }),
      ),
    );
    const finished = await Promise.all(jobs.map((job) => stack.waitForTask(job.jobId, job.tenant.apiKey)));

    const storage = join(stack.dataDir, 'storage');
    // Nothing was written into another bucket, or beside the buckets.
    expect(readdirSync(join(storage, 'objects'))).toEqual([BUCKET]);
    expect(readdirSync(join(storage, 'meta'))).toEqual([BUCKET]);
    const objects = filesUnder(join(storage, 'objects'));
    const metas = filesUnder(join(storage, 'meta'));

    const tenantFolders = new Set<string>();
    for (const [index, job] of jobs.entries()) {
      const label = `tenant ${job.tenant.id}, task_id ${job.taskId.id}`;
      expect(finished[index]?.status, label).toBe('complete');
      const stored = objects.filter((file) => file.split('/').includes(job.jobId));
      expect(stored, label).toHaveLength(1);
      const [bucket, tenantFolder = '', taskFolder = '', jobFolder, fileName, ...rest] = (
        stored[0] ?? ''
      ).split('/');
      expect(rest, label).toEqual([]);
      expect(bucket, label).toBe(BUCKET);
      expect(tenantFolder, label).toMatch(job.tenant.folder);
      expect(taskFolder, label).toMatch(job.taskId.folder);
      expect(jobFolder, label).toBe(job.jobId);
      expect(fileName, label).toBe('0.png');
      expect(metas, label).toContain(`${stored[0]}.json`);
      tenantFolders.add(`${job.tenant.id} -> ${tenantFolder}`);

      // The URL the client is given points at that very object, and serves it.
      const url = new URL(String(finished[index]?.asset_url));
      expect(decodeURIComponent(url.pathname), label).toBe(`/storage/v1/object/public/${stored[0]}`);
      const download = await fetch(url);
      expect(download.status, label).toBe(200);
      expect(download.headers.get('content-type'), label).toBe('image/png');
    }
    // One folder per tenant, shared with no other tenant.
    const folders = [...tenantFolders].map((entry) => entry.split(' -> ')[1]);
    expect(new Set(folders).size).toBe(tenants.length);
    expect(folders).toHaveLength(tenants.length);
  });
});

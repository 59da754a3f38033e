import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { getConfig } from '../config.ts';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.ts';
import { logger } from '../logger.ts';
import { dynamoClient, fromItem, tableName, toItem } from '../store/dynamo.ts';
import { TENANT_TYPES, type TenantType } from './tenant-types.ts';

export { TENANT_TYPES, type TenantType } from './tenant-types.ts';

/**
 * API keys and tenants (docs/api.md, Authentication and tenants). Only the SHA-256 of a key is stored; the plain key exists
 * once, in the registration response.
 */

export const TEST_API_KEY = 'makeit3d_test_sk_dev_001';
export const TEST_TENANT = { tenant_id: 'development_tenant', tenant_type: 'development' as const };

export interface Tenant {
  tenant_id: string;
  tenant_type: TenantType;
}

/**
 * zod's functional build (`zod/mini`), as task records use (tasks/task.ts): the status function
 * loads none of zod's method-chaining API (test/infra/bundle-budgets.test.ts).
 */
const ApiKeyRecordSchema = z.object({
  tenant_id: z.string(),
  tenant_type: z.enum(TENANT_TYPES),
  tenant_name: z.optional(z.nullable(z.string())),
  active: z.boolean(),
});

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

const apiKeyKey = (hash: string) => ({ pk: { S: `APIKEY#${hash}` }, sk: { S: 'APIKEY' } });

/**
 * `makeit3d_<live|test>_sk_<tenant_type>_<random>`, 192 random bits: `test` only on a stage
 * marked non-production (config `nonProduction`), `live` everywhere else.
 */
export function generateApiKey(tenantType: TenantType, nonProduction: boolean): string {
  const environment = nonProduction ? 'test' : 'live';
  return `makeit3d_${environment}_sk_${tenantType}_${randomBytes(24).toString('base64url')}`;
}

/**
 * Keys accepted within API_KEY_CACHE_SECONDS (config.ts, default 0: off), so a warm function (or
 * the local host) skips the key's read; a revocation then takes up to that long to reach it
 * (README, Security). Unknown, inactive and refused keys are never remembered: a key registered or
 * re-activated works at once. At most MAX_CACHED_KEYS, the oldest forgotten first.
 */
const MAX_CACHED_KEYS = 1000;

/** Accepted keys by SHA-256, with when (performance.now() ms) the acceptance stops counting. */
const acceptedKeys = new Map<string, { tenant: Tenant; until: number }>();
/** The client the remembered keys were read with: another client (a new local table) forgets them. */
let acceptedWith: unknown;

function rememberedTenant(hash: string, client: unknown, now: number): Tenant | undefined {
  if (acceptedWith !== client) {
    acceptedKeys.clear();
    acceptedWith = client;
  }
  const entry = acceptedKeys.get(hash);
  if (!entry) return undefined;
  // A copy: a request's tenant is its own.
  if (entry.until > now) return { ...entry.tenant };
  acceptedKeys.delete(hash);
  return undefined;
}

function remember(hash: string, tenant: Tenant, until: number): void {
  acceptedKeys.delete(hash);
  if (acceptedKeys.size >= MAX_CACHED_KEYS) {
    const oldest = acceptedKeys.keys().next().value;
    if (oldest !== undefined) acceptedKeys.delete(oldest);
  }
  acceptedKeys.set(hash, { tenant, until });
}

/** The tenant of a presented key. 401 for unknown/inactive keys; 503 when the store fails. */
export async function authenticate(apiKey: string | undefined): Promise<Tenant> {
  if (apiKey === undefined || apiKey.trim() === '') throw new UnauthorizedError('Missing API key');
  const key = apiKey.trim();
  const config = getConfig();
  if (key === TEST_API_KEY && !config.testKeyEnabled) {
    throw new UnauthorizedError('Invalid or inactive API key');
  }
  const hash = hashApiKey(key);
  const cacheSeconds = config.API_KEY_CACHE_SECONDS;
  let item: Record<string, unknown> | undefined;
  try {
    const client = dynamoClient();
    if (cacheSeconds > 0) {
      const tenant = rememberedTenant(hash, client, performance.now());
      if (tenant) return tenant;
    }
    const result = await client.send(new GetItemCommand({ TableName: tableName(), Key: apiKeyKey(hash) }));
    item = result.Item ? fromItem(result.Item) : undefined;
  } catch (error) {
    logger.error('API key store unavailable', { error_name: (error as Error).name });
    throw new ServiceUnavailableError('Authentication is temporarily unavailable; please retry shortly');
  }
  const record = item ? ApiKeyRecordSchema.safeParse(item) : undefined;
  if (!record?.success || !record.data.active) throw new UnauthorizedError('Invalid or inactive API key');
  const tenant: Tenant = { tenant_id: record.data.tenant_id, tenant_type: record.data.tenant_type };
  if (cacheSeconds > 0) remember(hash, tenant, performance.now() + cacheSeconds * 1000);
  return tenant;
}

export interface RegisterRequest {
  tenant_type: TenantType;
  tenant_identifier: string;
  tenant_name?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** Stores a new key for a tenant; earlier keys of the same tenant stay valid. */
export async function registerApiKey(request: RegisterRequest): Promise<{ apiKey: string; tenant: Tenant }> {
  const apiKey = generateApiKey(request.tenant_type, getConfig().nonProduction);
  await storeApiKey(apiKey, {
    tenant_id: request.tenant_identifier,
    tenant_type: request.tenant_type,
    tenant_name: request.tenant_name ?? null,
    metadata: request.metadata ?? {},
  });
  return { apiKey, tenant: { tenant_id: request.tenant_identifier, tenant_type: request.tenant_type } };
}

export async function storeApiKey(
  apiKey: string,
  tenant: {
    tenant_id: string;
    tenant_type: TenantType;
    tenant_name: string | null;
    metadata: Record<string, unknown>;
  },
): Promise<void> {
  await dynamoClient().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: {
        ...apiKeyKey(hashApiKey(apiKey)),
        ...toItem({ ...tenant, active: true, created_at: new Date().toISOString(), entity: 'api_key' }),
      },
    }),
  );
}

/** The test key's record, as the local stack and non-production stages seed it. */
export function testKeyItem(): Record<string, unknown> {
  return {
    pk: `APIKEY#${hashApiKey(TEST_API_KEY)}`,
    sk: 'APIKEY',
    tenant_id: TEST_TENANT.tenant_id,
    tenant_type: TEST_TENANT.tenant_type,
    tenant_name: 'Development tenant',
    active: true,
    entity: 'api_key',
  };
}

/** Compares secrets in constant time (hashing first makes the lengths equal). */
export function secretsMatch(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

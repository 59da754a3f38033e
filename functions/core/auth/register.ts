import * as z from 'zod';
import { requireSecret } from '../config.ts';
import { UnauthorizedError, ValidationError } from '../errors.ts';
import { oneOf } from '../operations/fields.ts';
import { issuesFromZod, validationFailure } from '../validation-issues.ts';
import { registerApiKey, secretsMatch, TENANT_TYPES } from './api-keys.ts';
import { beginRegistrationAttempt, endRegistrationAttempt } from './registration-limit.ts';

/**
 * Metadata is kept as a map on the key's DynamoDB item. DynamoDB refuses an item over 400 KB and
 * attributes nested over 32 levels (Amazon DynamoDB Developer Guide, "Quotas",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html), and
 * attribute names shorter than one character, which map keys are to it (same guide, "Supported
 * data types and naming rules",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html;
 * both checked 2026-12). The limits here keep well inside, so an accepted registration is stored
 * (the local store accepts empty keys; DynamoDB would answer a 500 for them).
 */
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_METADATA_DEPTH = 8;

/**
 * What makes `value` unstorable or too deep, else undefined. `depth` is the level `value` sits
 * at (the metadata object is level 1); the walk stops below MAX_METADATA_DEPTH, so a deeply
 * nested value costs no more than a shallow one.
 */
function metadataProblem(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_METADATA_DEPTH) {
    return `must nest objects and arrays at most ${MAX_METADATA_DEPTH} levels deep`;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key === '' && !Array.isArray(value)) return 'must not have an empty key';
    const problem = metadataProblem(child, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

const MetadataSchema = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
  .superRefine((metadata, context) => {
    // Shape first: serialising a deeply nested value could exhaust the stack.
    const problem = metadataProblem(metadata, 1);
    if (problem) {
      context.addIssue({ code: 'custom', message: problem });
      return;
    }
    if (Buffer.byteLength(JSON.stringify(metadata), 'utf8') > MAX_METADATA_BYTES) {
      context.addIssue({
        code: 'custom',
        message: `must be at most ${MAX_METADATA_BYTES} bytes (16 KiB) as JSON`,
      });
    }
  });

const RegisterSchema = z.object({
  verification_secret: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  tenant_type: oneOf(TENANT_TYPES),
  tenant_identifier: z
    .string({ error: 'is required' })
    .trim()
    .min(1, { error: 'is required' })
    .max(255, { error: 'must be at most 255 characters' })
    // Storage paths encode any identifier safely; a dot-only one is refused all the same.
    .refine((value) => !/^\.+$/.test(value), { error: "must contain a character other than '.'" }),
  tenant_name: z
    .string({ error: 'must be a string' })
    .max(255, { error: 'must be at most 255 characters' })
    .optional(),
  metadata: MetadataSchema.optional(),
});

const SHOPIFY_HOST = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/i;

/**
 * POST /auth/register (docs/api.md, Authentication and tenants). The secret is checked before anything else is revealed, and
 * each attempt is counted against the client's address first (registration-limit.ts), so wrong
 * secrets answer 429 after REGISTRATION_FAILURES_PER_WINDOW of them.
 */
export async function register(body: unknown, client: { address: string }) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body must be a JSON object');
  }
  const expected = await requireSecret('REGISTRATION_SECRET');
  const attempt = await beginRegistrationAttempt(client.address);
  const secret = (body as Record<string, unknown>).verification_secret;
  if (typeof secret !== 'string' || !secretsMatch(secret, expected)) {
    throw new UnauthorizedError('Invalid verification secret. Access denied.', false);
  }
  await endRegistrationAttempt(attempt);
  const parsed = RegisterSchema.safeParse(body);
  if (!parsed.success) throw validationFailure(issuesFromZod(parsed.error, body));
  const request = parsed.data;
  if (request.tenant_type === 'shopify' && !SHOPIFY_HOST.test(request.tenant_identifier)) {
    throw new ValidationError('Shopify tenant_identifier must be a valid .myshopify.com domain', [
      { field: 'tenant_identifier', message: 'must be a <name>.myshopify.com domain' },
    ]);
  }
  const { apiKey, tenant } = await registerApiKey(request);
  return {
    api_key: apiKey,
    tenant_id: tenant.tenant_id,
    tenant_type: tenant.tenant_type,
    message: `API key successfully registered for ${tenant.tenant_type} tenant: ${tenant.tenant_id}`,
  };
}

import { z } from 'zod';
import { requireSecret } from '../config.ts';
import { UnauthorizedError, ValidationError } from '../errors.ts';
import { oneOf } from '../operations/fields.ts';
import { issuesFromZod, validationFailure } from '../validation-issues.ts';
import { registerApiKey, secretsMatch, TENANT_TYPES } from './api-keys.ts';

const RegisterSchema = z.object({
  verification_secret: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  tenant_type: oneOf(TENANT_TYPES),
  tenant_identifier: z
    .string({ error: 'is required' })
    .trim()
    .min(1, { error: 'is required' })
    .max(255, { error: 'must be at most 255 characters' }),
  tenant_name: z
    .string({ error: 'must be a string' })
    .max(255, { error: 'must be at most 255 characters' })
    .optional(),
  metadata: z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }).optional(),
});

const SHOPIFY_HOST = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/i;

/** POST /auth/register (contract §2). The secret is checked before anything else is revealed. */
export async function register(body: unknown) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body must be a JSON object');
  }
  const secret = (body as Record<string, unknown>).verification_secret;
  const expected = await requireSecret('REGISTRATION_SECRET');
  if (typeof secret !== 'string' || !secretsMatch(secret, expected)) {
    throw new UnauthorizedError('Invalid verification secret. Access denied.', false);
  }
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

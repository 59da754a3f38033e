import { requireSecret } from '../config.ts';
import { UnauthorizedError, ValidationError } from '../errors.ts';
import { issuesFromZod, validationFailure } from '../validation-issues.ts';
import { registerApiKey, secretsMatch } from './api-keys.ts';
import { RegisterRequestSchema } from './register-request.ts';
import { beginRegistrationAttempt, endRegistrationAttempt } from './registration-limit.ts';

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
  const parsed = RegisterRequestSchema.safeParse(body);
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

import * as z from 'zod';
import { oneOf } from '../operations/fields.ts';
import { TENANT_TYPES } from './tenant-types.ts';

export { TENANT_TYPES, type TenantType } from './tenant-types.ts';

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

/**
 * The body of `POST /auth/register` (docs/api.md, Authentication and tenants): what the handler
 * validates with, and what the OpenAPI document (functions/core/openapi/) states. Only zod here, so
 * the document's bundle loads no key store.
 */
export const RegisterRequestSchema = z
  .object({
    verification_secret: z
      .string({ error: 'is required' })
      .min(1, { error: 'is required' })
      .meta({ description: "The stage's registration secret; checked first (a wrong one is a 401)." }),
    tenant_type: oneOf(TENANT_TYPES),
    tenant_identifier: z
      .string({ error: 'is required' })
      .trim()
      .min(1, { error: 'is required' })
      .max(255, { error: 'must be at most 255 characters' })
      // Storage paths encode any identifier safely; a dot-only one is refused all the same.
      .refine((value) => !/^\.+$/.test(value), { error: "must contain a character other than '.'" })
      .meta({
        description:
          '1-255 characters after trimming, not only dots; for `shopify` a `<name>.myshopify.com` host. Becomes the tenant id.',
      }),
    tenant_name: z
      .string({ error: 'must be a string' })
      .max(255, { error: 'must be at most 255 characters' })
      .optional(),
    metadata: MetadataSchema.optional().meta({
      description: 'At most 16 KiB as JSON, nested at most 8 levels, no empty key.',
    }),
  })
  .meta({ description: 'Issues an API key for a tenant.' });

import * as z from 'zod';
import { getConfig, required } from '../config.ts';

/**
 * Reusable zod fields whose messages name the allowed values, so a 400 tells the caller how to
 * fix the request (docs/api.md, Conventions). The field name itself is added from the issue path.
 */

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: () => `must be one of: ${values.join(', ')}` });
}

export function intRange(min: number, max: number) {
  const message = `must be an integer between ${min} and ${max}`;
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

export function numberRange(min: number, max: number) {
  const message = `must be a number between ${min} and ${max}`;
  return z.number({ error: message }).min(min, { error: message }).max(max, { error: message });
}

export function text(maxLength: number, options: { min?: number } = {}) {
  const min = options.min ?? 1;
  const message = `must be a string of ${min} to ${maxLength} characters`;
  return z
    .string({ error: message })
    .trim()
    .min(min, { error: min === 1 ? 'must not be empty' : message })
    .max(maxLength, { error: message });
}

export const booleanField = z.boolean({ error: 'must be true or false' });

/** The client's workspace item id (docs/api.md, Generation requests). */
export const taskIdField = z
  .string({ error: 'is required: 1-128 characters of A-Z a-z 0-9 . _ : -' })
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: 'must be 1-128 characters of A-Z a-z 0-9 . _ : -' });

/** The origin prefixes input URLs must start with: the configured Supabase project's storage. */
export function allowedAssetPrefixes(): string[] {
  const base = required(getConfig().SUPABASE_URL, 'SUPABASE_URL').replace(/\/+$/, '');
  return [`${base}/storage/v1/object/public/`, `${base}/storage/v1/object/sign/`];
}

export function isAllowedAssetUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  // Compare on the normalised URL so `..` segments cannot climb out of the storage routes.
  const normalised = url.href;
  return allowedAssetPrefixes().some(
    (prefix) => normalised.startsWith(prefix) && normalised.length > prefix.length,
  );
}

/** An input file URL: a Supabase Storage object URL of the configured project (docs/api.md, Generation requests). */
export const assetUrlField = z.string({ error: 'must be a URL string' }).superRefine((value, context) => {
  if (!isAllowedAssetUrl(value)) {
    const [publicPrefix] = allowedAssetPrefixes();
    context.addIssue({
      code: 'custom',
      message: `must be a Supabase Storage object URL of this project, starting with ${publicPrefix} (or …/object/sign/)`,
    });
  }
});

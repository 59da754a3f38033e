import type { z } from 'zod';
import { type FieldIssue, ValidationError } from './errors.ts';

/**
 * zod failures as the API's 400 (docs/api.md, Conventions) (`detail` plus `errors: [{field, message}]`). Kept apart from
 * the operation catalogue so handlers that only validate a small body (registration) do not load
 * every provider.
 */

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = body;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** zod issues as `{field, message}`; a field absent from the body is reported as required. */
export function issuesFromZod(error: z.ZodError, body: unknown): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : 'body',
    message:
      issue.code === 'invalid_type' && issue.path.length > 0 && valueAt(body, issue.path) === undefined
        ? 'is required'
        : issue.message,
  }));
}

export function validationFailure(issues: FieldIssue[]): ValidationError {
  const sentences = issues.map((issue) => `${issue.field} ${issue.message}`);
  return new ValidationError(`Invalid request: ${sentences.join('; ')}`, issues);
}

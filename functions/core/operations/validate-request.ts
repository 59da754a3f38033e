import type { z } from 'zod';
import { type FieldIssue, ValidationError } from '../errors.ts';
import { selectProvider } from './catalogue.ts';
import type { ProviderOperation } from './provider-operation.ts';

export interface ValidatedGeneration {
  entry: ProviderOperation;
  clientTaskId: string;
  params: Record<string, unknown>;
}

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

/** Validates a generation body with the selected provider's schema (contract §3). */
export function validateGeneration(operation: string, body: unknown): ValidatedGeneration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  const entry = selectProvider(operation, record);
  const parsed = entry.schema.safeParse({ ...record, provider: entry.provider });
  if (!parsed.success) throw validationFailure(issuesFromZod(parsed.error, record));
  const clientTaskId = parsed.data.task_id;
  if (typeof clientTaskId !== 'string')
    throw validationFailure([{ field: 'task_id', message: 'is required' }]);
  return { entry, clientTaskId, params: parsed.data };
}

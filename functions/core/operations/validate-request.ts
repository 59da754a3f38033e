import { ValidationError } from '../errors.ts';
import { issuesFromZod, validationFailure } from '../validation-issues.ts';
import { selectProvider } from './catalogue.ts';
import type { ProviderOperation } from './provider-operation.ts';

export interface ValidatedGeneration {
  entry: ProviderOperation;
  clientTaskId: string;
  params: Record<string, unknown>;
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

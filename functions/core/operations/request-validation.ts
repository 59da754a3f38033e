import { ValidationError } from '../errors.ts';
import { issuesFromZod, validationFailure } from '../validation-issues.ts';
import type { OperationRequest } from './operation-request.ts';
import { selectProvider } from './request-catalogue.ts';

export interface ValidatedRequest<Entry = OperationRequest> {
  entry: Entry;
  clientTaskId: string;
  params: Record<string, unknown>;
}

/**
 * Validates a generation body with the selected provider's schema (docs/api.md, Generation requests), loading only
 * the request side of the catalogue: what the submit handler needs.
 */
export function validateGenerationRequest(operation: string, body: unknown): ValidatedRequest {
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

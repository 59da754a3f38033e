import { operationEntry } from './catalogue.ts';
import type { ProviderOperation } from './provider-operation.ts';
import { type ValidatedRequest, validateGenerationRequest } from './request-validation.ts';

export type ValidatedGeneration = ValidatedRequest<ProviderOperation>;

/**
 * Validates a generation body (request-validation.ts) and returns the runnable entry with it.
 * This loads every provider's code: the submit path should use `validateGenerationRequest`.
 */
export function validateGeneration(operation: string, body: unknown): ValidatedGeneration {
  const validated = validateGenerationRequest(operation, body);
  return { ...validated, entry: operationEntry(operation, validated.entry.provider) };
}

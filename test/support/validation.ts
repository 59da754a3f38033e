import { ValidationError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';

/** The `{field, message}` issues a body fails with; fails the test when the body is valid. */
export function validationIssues(operation: string, body: unknown): { field: string; message: string }[] {
  try {
    validateGeneration(operation, body);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a validation error');
}

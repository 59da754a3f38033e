import { randomBytes } from 'node:crypto';

/**
 * The job id is the Step Functions execution name (1–80 characters, no `:`), URL-safe, and
 * starts with the client's task_id where it fits so an integrator can find the execution in the
 * console. The random tail (96 bits) makes it unique.
 */
const RANDOM_LENGTH = 16;
const MAX_EXECUTION_NAME = 80;
const MAX_PREFIX = MAX_EXECUTION_NAME - RANDOM_LENGTH - 1;

export function newJobId(clientTaskId: string): string {
  const random = randomBytes(12).toString('base64url');
  const prefix = clientTaskId
    .replace(/:/g, '_')
    .replace(/[^A-Za-z0-9._-]/g, '')
    .slice(0, MAX_PREFIX);
  return prefix ? `${prefix}-${random}` : random;
}

export const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,80}$/;

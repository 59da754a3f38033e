import type { z } from 'zod';
import { describeError, type Logger, logger } from '../logger.ts';

/**
 * Wraps a Step Functions task Lambda: parses its input with the state's schema (a mismatch is a
 * bug in the ASL, so it throws), and logs start, end and failure with the job id.
 */
export function workflowStep<S extends z.ZodType, R>(
  name: string,
  schema: S,
  fn: (input: z.infer<S>, log: Logger) => Promise<R>,
): (event: unknown) => Promise<R> {
  return async (event: unknown) => {
    const input = schema.parse(event);
    const jobId = (input as { task?: { job_id?: string } }).task?.job_id;
    const log = logger.child({ step: name, job_id: jobId });
    const started = Date.now();
    try {
      const result = await fn(input, log);
      log.info('Step finished', { duration_ms: Date.now() - started });
      return result;
    } catch (error) {
      log.warn('Step failed', { duration_ms: Date.now() - started, ...describeError(error) });
      throw error;
    }
  };
}

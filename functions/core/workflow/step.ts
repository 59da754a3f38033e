import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { describeError, invocationLogger, type Logger } from '../logger.ts';

/**
 * Wraps a Step Functions task Lambda: parses its input with the state's schema (a mismatch is a
 * bug in the ASL, so it throws), and logs start, end and failure. Every line of the step, in any
 * module, carries the step, the Lambda request id and cold start (in Lambda; the local runner
 * passes no context) and the task's tenant, job id, operation and provider.
 */
export function workflowStep<S extends z.ZodType, R>(
  name: string,
  schema: S,
  fn: (input: z.infer<S>, log: Logger) => Promise<R>,
): (event: unknown, context?: Context) => Promise<R> {
  return async (event: unknown, context?: Context) => {
    const log = invocationLogger(context, { step: name });
    return log.run(async () => {
      const input = schema.parse(event);
      const task = (
        input as { task?: Partial<Record<'tenant_id' | 'job_id' | 'operation' | 'provider', string>> }
      ).task;
      if (task) {
        const { tenant_id, job_id, operation, provider } = task;
        log.appendKeys({ tenant_id, job_id, operation, provider });
      }
      const started = Date.now();
      try {
        const result = await fn(input, log);
        log.info('Step finished', { duration_ms: Date.now() - started });
        return result;
      } catch (error) {
        log.warn('Step failed', { duration_ms: Date.now() - started, ...describeError(error) });
        throw error;
      }
    });
  };
}

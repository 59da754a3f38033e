import type * as z from 'zod';
import { errorCodeFor } from '../errors.ts';
import { logger } from '../logger.ts';
import { countTaskFailure, METRIC, MetricUnit, putMetric } from '../observability/metrics.ts';
import { operationRequest } from '../operations/request-catalogue.ts';
import type { TaskRef } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';
import type { StateErrorSchema, StepResult } from './step-io.ts';

/**
 * States CompleteTask and FailTask. They need only the operation's metadata, so they read the
 * request side of the catalogue and carry no provider client or image codec.
 */

export async function completeTask(task: TaskRef, result: StepResult): Promise<void> {
  const entry = operationRequest(task.operation, task.provider);
  const completed = await taskRepository.markComplete(
    task.tenant_id,
    task.job_id,
    result.assets,
    { sent: result.sent, ...(result.facts ? { facts: result.facts } : {}) },
    entry.reportsProgress,
  );
  // Counted once: a retried step finds the task complete already and changes nothing.
  if (completed) {
    const dimensions = { operation: task.operation, provider: task.provider };
    putMetric(METRIC.TaskCompleted, dimensions);
    const bytes = result.assets.reduce((total, asset) => total + asset.bytes, 0);
    putMetric(METRIC.ResultBytes, dimensions, bytes, MetricUnit.Bytes);
  }
}

/** The human sentence for a failed state: the error's own message where it has one. */
export function failureMessage(error: z.infer<typeof StateErrorSchema>): string {
  const cause = error.Cause;
  let message: string | undefined;
  if (typeof cause === 'string' && cause.trim() !== '') {
    // AWS Lambda puts `{"errorType","errorMessage","trace"}` in Cause; the local runner the message.
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      message = typeof parsed.errorMessage === 'string' ? parsed.errorMessage : cause;
    } catch {
      message = cause;
    }
  }
  if (error.Error === 'States.Timeout') {
    return 'The task timed out before the provider answered; retrying may help';
  }
  if (errorCodeFor(error.Error) === 'internal') {
    logger.error('Task failed with an unexpected error', { error_name: error.Error, error_message: message });
    return 'The task failed because of an internal error; retrying may help';
  }
  return message ?? `The task failed (${error.Error})`;
}

export async function failTask(
  task: TaskRef,
  error: z.infer<typeof StateErrorSchema>,
): Promise<{ error: string; error_code: string }> {
  const message = failureMessage(error);
  const errorCode = errorCodeFor(error.Error);
  // Counted once: a retried step finds the task failed already and changes nothing.
  if (await taskRepository.markFailed(task.tenant_id, task.job_id, message, errorCode)) {
    countTaskFailure(task, errorCode);
  }
  return { error: message, error_code: errorCode };
}

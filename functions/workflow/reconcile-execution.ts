import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { invocationLogger, logger } from '../core/logger.ts';
import { countTaskFailure } from '../core/observability/metrics.ts';
import { TaskRefSchema } from '../core/tasks/task.ts';
import { taskRepository } from '../core/tasks/task-repository.ts';
import { recordResultRows } from '../core/workflow/rows.ts';

/**
 * EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED): the
 * execution ended without its own FailTask step finishing the task (the state machine's
 * timeout, an abort, or FailTask itself failing), so the task is failed here. A task the
 * workflow already finished is left alone (conditional write).
 */
const ExecutionEventSchema = z.object({
  detail: z.object({
    status: z.string(),
    name: z.string().optional(),
    input: z.string().nullable().optional(),
  }),
});

const MESSAGES: Record<string, string> = {
  TIMED_OUT: 'The task timed out before it finished; retrying may help',
  ABORTED: 'The task was stopped before it finished; retrying may help',
  FAILED: 'The task failed because of an internal error; retrying may help',
};

export const handler = (event: unknown, context?: Context): Promise<void> =>
  invocationLogger(context, { step: 'ReconcileExecution' }).run(() => reconcile(event));

async function reconcile(event: unknown): Promise<void> {
  const { detail } = ExecutionEventSchema.parse(event);
  const message = MESSAGES[detail.status];
  if (!message || !detail.input) return;
  const task = TaskRefSchema.safeParse(JSON.parse(detail.input));
  if (!task.success) {
    logger.warn('Execution input is not a task reference', { execution: detail.name });
    return;
  }
  const code = detail.status === 'TIMED_OUT' ? 'provider_timeout' : 'internal';
  const changed = await taskRepository.markFailed(task.data.tenant_id, task.data.job_id, message, code);
  if (changed) {
    // FailTask did not run for this task, so it is counted here (an ABORTED or FAILED execution
    // is the service's fault: ServiceFailure).
    countTaskFailure(task.data, code);
    logger.warn('Task failed by execution reconciliation', {
      job_id: task.data.job_id,
      status: detail.status,
    });
    await recordResultRows(task.data).catch((error: unknown) =>
      logger.warn('Rows not updated after reconciliation', { error_message: (error as Error).message }),
    );
  }
}

import { operationRequest } from '../operations/request-catalogue.ts';
import { rowsForTask, tableFor, upsertRowsBestEffort } from '../storage/result-rows.ts';
import type { TaskRef } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';

/**
 * State MarkTaskProcessing. It needs only the operation's metadata, so it reads the request side
 * of the catalogue and its bundle carries no provider client or image codec.
 */

/** Which branch of the state machine runs the task. */
export type ExecutionMode = 'sync' | 'async' | 'image-processing';

export async function markProcessing(task: TaskRef): Promise<{ mode: ExecutionMode }> {
  const entry = operationRequest(task.operation, task.provider);
  await taskRepository.markProcessing(task.tenant_id, task.job_id);
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (current) await upsertRowsBestEffort(tableFor(entry.resultKind), rowsForTask(current, []));
  return {
    mode: entry.mode === 'sync' && entry.runsOn === 'image-processing' ? 'image-processing' : entry.mode,
  };
}

import { operationRequest } from '../operations/request-catalogue.ts';
import { assetStorage } from '../storage/asset-storage.ts';
import { rowsForTask, tableFor, upsertRows } from '../storage/result-rows.ts';
import type { TaskRef } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';

/**
 * Mirrors the finished task to its Supabase rows; throws so the state's Retry applies. Once the
 * rows hold the final status, the task leaves the index of unfinished tasks; until then the
 * scheduled reconciler (functions/core/tasks/reconcile.ts) writes them again.
 */
export async function recordResultRows(task: TaskRef): Promise<void> {
  const entry = operationRequest(task.operation, task.provider);
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (!current) return;
  const urls =
    current.status === 'complete'
      ? await Promise.all((current.assets ?? []).map((a) => assetStorage.urlFor(a.path)))
      : [];
  await upsertRows(tableFor(entry.resultKind), rowsForTask(current, urls));
  if (current.status === 'complete' || current.status === 'failed') {
    await taskRepository.markRowsRecorded(task.tenant_id, task.job_id);
  }
}

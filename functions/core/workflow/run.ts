import { syncCatalogue } from '../operations/sync-catalogue.ts';
import type { TaskRef } from '../tasks/task.ts';
import type { StepResult } from './step-io.ts';
import { runSync } from './sync-run.ts';

/** State RunProvider: any synchronous operation of the runnable catalogue (sync-run.ts). */
export async function runProvider(task: TaskRef): Promise<StepResult> {
  const entry = syncCatalogue.entry(task.operation, task.provider);
  if (entry.mode !== 'sync')
    throw new Error(`${task.operation}/${task.provider} is not a synchronous operation`);
  return runSync(task, entry);
}

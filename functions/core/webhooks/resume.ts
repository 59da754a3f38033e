import { noteCallback } from './callback-store.ts';
import { type TaskCallbacks, taskCallbacks } from './task-callbacks.ts';

export type ResumeOutcome = 'resumed' | 'noted' | 'not-processing';

/**
 * A verified webhook for a task: resumes its execution if it waits on a token, else leaves the
 * note the next wait finds (docs/api.md, Webhooks). A token nobody waits on any more (its wait
 * timed out and the execution went on to poll) is harmless: the arrival is noted instead, so the
 * execution's next wait, if the poll still finds the job running, ends at once.
 */
export async function resumeByCallback(
  task: { tenant_id: string; job_id: string },
  provider: string,
  callbacks: TaskCallbacks = taskCallbacks,
): Promise<ResumeOutcome> {
  const note = await noteCallback(task.tenant_id, task.job_id);
  if (note.kind !== 'token') return note.kind;
  if (await callbacks.resume(note.token, { via: 'webhook', provider })) return 'resumed';
  const again = await noteCallback(task.tenant_id, task.job_id);
  if (again.kind === 'token') {
    return (await callbacks.resume(again.token, { via: 'webhook', provider })) ? 'resumed' : 'noted';
  }
  return again.kind;
}

import * as z from 'zod';
import { StoredAssetSchema, TaskRefSchema } from '../tasks/task.ts';

/**
 * What the states of state-machines/generation.asl.json pass each other: schemas only, so every
 * workflow function can parse its input without loading any other state's code. The work of
 * each state is in its own module here (mark, run / process-image, async-jobs, finish, rows), and
 * each is idempotent: a retried step overwrites the same objects and repeats the same
 * conditional writes.
 */

export const TaskInputSchema = z.object({ task: TaskRefSchema });

export const ResultSchema = z.object({
  assets: z.array(StoredAssetSchema).min(1),
  sent: z.record(z.string(), z.unknown()).default({}),
  facts: z.record(z.string(), z.unknown()).optional(),
});
export type StepResult = z.infer<typeof ResultSchema>;

export const ProviderJobSchema = z.object({
  status: z.enum(['pending', 'done']),
  provider_job_id: z.string(),
  state: z.record(z.string(), z.unknown()),
  wait_seconds: z.number().int().min(0),
  deadline: z.string(),
  /** When the job was submitted (or resumed): the poll schedule estimates from the time since. */
  started_at: z.string().optional(),
  sent: z.record(z.string(), z.unknown()).default({}),
  result: ResultSchema.optional(),
  /**
   * Set when the provider calls back (docs/api.md, Webhooks): the execution waits this long for
   * the callback (WaitForProviderCallback) instead of the Wait state, then polls.
   */
  callback_timeout_seconds: z.number().int().min(1).optional(),
  /**
   * What the timeout is (workflow/callback-wait.ts): `first`, the provider's typical duration;
   * `informed`, the remaining time estimated from progress; `polling`, the poll schedule's wait
   * (once a webhook was expected and did not come, the waits follow the polling cadence).
   */
  callback_phase: z.enum(['first', 'informed', 'polling']).optional(),
  /** What ended the last callback wait: the callback's note, or the caught States.Timeout. */
  resumed_by: z.unknown().optional(),
});
export type ProviderJob = z.infer<typeof ProviderJobSchema>;

export const StateErrorSchema = z.object({ Error: z.string(), Cause: z.unknown().optional() });

/** The input of WaitForProviderCallback's function: the task, its job, and the token to store. */
export const CallbackWaitInputSchema = z.object({
  task: TaskRefSchema,
  job: ProviderJobSchema,
  token: z.string().min(1),
});

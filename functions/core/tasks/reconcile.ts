import { getConfig } from '../config.ts';
import { describeTaskExecution, type ExecutionStatus, taskRefOf } from '../executions/execution-starter.ts';
import { describeError, logger } from '../logger.ts';
import { countTaskFailure, METRIC, putMetric } from '../observability/metrics.ts';
import { recordResultRows } from '../workflow/rows.ts';
import type { Task } from './task.ts';
import { taskRepository } from './task-repository.ts';

/**
 * The scheduled reconciler's work: nothing stays unfinished. It looks in the index of unfinished
 * tasks (functions/core/store/dynamo.ts `UNFINISHED_INDEX`) for three kinds of leftovers, each
 * past its own deadline (config.ts STUCK_*_SECONDS):
 *
 * - `pending_task`: the execution never started (the submit died between writing the task and
 *   StartExecution, or StartExecution failed and so did marking the task failed). Its client got
 *   no 202 (a 503, or no answer) and submits again, so starting it now could make a second paid
 *   job: it is failed `internal` instead, saying so. If an execution of that name exists after
 *   all: running → left alone, ended → failed `internal`.
 * - `processing_task`: older than any execution may run. Its execution still running → left
 *   alone; ended or gone → failed `internal` (the EventBridge reconciliation of ended executions,
 *   functions/workflow/reconcile-execution.ts, did not get to it), then its rows are written.
 * - `rows`: a finished task whose Supabase rows were never brought up to date (the final upsert
 *   kept failing): written again, and the task leaves the index.
 *
 * Every action is a conditional write or a repeatable one (a finished task is never changed; an
 * execution name starts once), so overlapping runs and the workflow itself cannot be undone by it.
 */

export type StuckKind = 'pending_task' | 'processing_task' | 'rows';
export type StuckOutcome = 'failed' | 'left' | 'recorded';

/** The sentence a task failed by the reconciler carries (error_code `internal`). */
export const STUCK_TASK_MESSAGE = "The task's workflow ended without finishing it; retrying may help";

/** The sentence for a task whose workflow never started (error_code `internal`). */
export const NEVER_STARTED_MESSAGE = 'The task could not be started; submit it again';

/** At most this many tasks per run, so a backlog cannot make a run outlive its Lambda. */
export const MAX_ITEMS_PER_RUN = 100;

/** No new task is taken up with less than this left of the run's time (one task's slowest work). */
export const RESERVE_MS = 30_000;

const KINDS: { kind: StuckKind; statuses: Task['status'][]; seconds: () => number }[] = [
  { kind: 'pending_task', statuses: ['pending'], seconds: () => getConfig().STUCK_PENDING_SECONDS },
  {
    kind: 'processing_task',
    statuses: ['processing'],
    seconds: () => getConfig().STUCK_PROCESSING_SECONDS,
  },
  { kind: 'rows', statuses: ['complete', 'failed'], seconds: () => getConfig().STUCK_ROWS_SECONDS },
];

/** Whether an execution may still finish its task: it runs, or is about to run again (redrive). */
export function executionMayFinish(status: ExecutionStatus | undefined): boolean {
  return status === 'RUNNING' || status === 'PENDING_REDRIVE';
}

export interface ReconcileOptions {
  /** The time the deadlines count from (epoch ms); now by default. */
  now?: number;
  /** How much of the run's time is left, in ms (the Lambda context's remaining time). */
  timeLeftMs: () => number;
  maxItems?: number;
}

export interface ReconciledItem {
  job_id: string;
  kind: StuckKind;
  outcome: StuckOutcome | 'error';
}

export interface ReconcileReport {
  items: ReconciledItem[];
  /** The run stopped early (item limit or time) with work possibly left for the next run. */
  truncated: boolean;
}

export async function reconcileStuckTasks(options: ReconcileOptions): Promise<ReconcileReport> {
  const now = options.now ?? Date.now();
  const maxItems = options.maxItems ?? MAX_ITEMS_PER_RUN;
  const report: ReconcileReport = { items: [], truncated: false };
  for (const { kind, statuses, seconds } of KINDS) {
    const remaining = maxItems - report.items.length;
    if (remaining <= 0) {
      report.truncated = true;
      break;
    }
    const before = new Date(now - seconds() * 1000).toISOString();
    const timeIsUp = () => options.timeLeftMs() < RESERVE_MS;
    const stuck = taskRepository.findStuck({ statuses, before, limit: remaining, shouldStop: timeIsUp });
    for await (const task of stuck) {
      if (timeIsUp()) break;
      report.items.push({ job_id: task.job_id, kind, outcome: await reconcileOne(kind, task) });
    }
    if (timeIsUp()) {
      report.truncated = true;
      break;
    }
  }
  return report;
}

async function reconcileOne(kind: StuckKind, task: Task): Promise<StuckOutcome | 'error'> {
  const log = logger.child({
    job_id: task.job_id,
    tenant_id: task.tenant_id,
    operation: task.operation,
    provider: task.provider,
    stuck_kind: kind,
  });
  putMetric(METRIC.StuckFound, { kind });
  try {
    const outcome = await resolve(kind, task);
    putMetric(METRIC.StuckResolved, { kind, outcome });
    log.warn('Stuck task reconciled', { status: task.status, updated_at: task.updated_at, outcome });
    return outcome;
  } catch (error) {
    // Left for the next run; StuckFound keeps counting it until then.
    log.error('Stuck task not reconciled; the next run tries again', describeError(error));
    return 'error';
  }
}

async function resolve(kind: StuckKind, task: Task): Promise<StuckOutcome> {
  if (kind === 'rows') {
    await recordResultRows(taskRefOf(task));
    return 'recorded';
  }
  const status = await describeTaskExecution(task.job_id);
  if (executionMayFinish(status)) return 'left';
  const never = kind === 'pending_task' && status === undefined;
  return failUnfinished(task, never ? NEVER_STARTED_MESSAGE : STUCK_TASK_MESSAGE);
}

/** Fails a task its execution left unfinished, then writes its rows (or leaves that to `rows`). */
async function failUnfinished(task: Task, message: string): Promise<StuckOutcome> {
  const changed = await taskRepository.markFailed(task.tenant_id, task.job_id, message, 'internal');
  // Finished meanwhile by its own workflow: that result stands.
  if (!changed) return 'left';
  countTaskFailure(task, 'internal');
  await recordResultRows(taskRefOf(task)).catch((error: unknown) =>
    logger.warn('Rows of a reconciled task not written; a later run writes them', {
      job_id: task.job_id,
      ...describeError(error),
    }),
  );
  return 'failed';
}

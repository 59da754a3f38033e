import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { describeError, invocationLogger, logger } from '../core/logger.ts';
import { type ReconcileReport, reconcileStuckTasks } from '../core/tasks/reconcile.ts';

/**
 * EventBridge schedule (every 5 minutes): finishes what nothing else will (tasks left `pending`
 * by a failed start, tasks `processing` after their execution is gone, rows never brought up to
 * date), see functions/core/tasks/reconcile.ts. A failure to look (the query itself) throws, so
 * the invocation is retried and then lands in the schedule's dead-letter queue; a task that could
 * not be reconciled is logged and left for the next run.
 */
const ScheduledEventSchema = z.looseObject({
  source: z.string().optional(),
  'detail-type': z.string().optional(),
  time: z.string().optional(),
});

export const handler = async (event: unknown, context?: Context): Promise<ReconcileReport> =>
  invocationLogger(context, { step: 'ReconcileStuckTasks' }).run(() => reconcile(event, context));

async function reconcile(event: unknown, context: Context | undefined): Promise<ReconcileReport> {
  const parsed = ScheduledEventSchema.safeParse(event);
  if (!parsed.success) logger.warn('Unexpected reconciler event; running anyway');
  const started = Date.now();
  // Without a Lambda context (a direct call), one minute, like the local host's runs.
  const timeLeftMs = context
    ? () => context.getRemainingTimeInMillis()
    : () => 60_000 - (Date.now() - started);
  try {
    const report = await reconcileStuckTasks({ timeLeftMs });
    const counts: Record<string, number> = {};
    for (const item of report.items) {
      const key = `${item.kind}:${item.outcome}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    logger.info('Stuck-task reconciliation finished', {
      found: report.items.length,
      outcomes: counts,
      truncated: report.truncated,
      duration_ms: Date.now() - started,
    });
    return report;
  } catch (error) {
    logger.error('Stuck-task reconciliation failed', describeError(error));
    throw error;
  }
}

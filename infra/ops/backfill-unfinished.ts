import { parseArgs } from 'node:util';
import { resetConfig } from '../../functions/core/config.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';

/**
 * `npm run ops:backfill-unfinished -- --table <TableName> [--dry-run]`: once, after the first
 * deploy of a stage whose table holds tasks written before the `unfinished` index existed. Marks
 * every pending or processing task that lacks the mark, so the scheduled reconciler
 * (reconcile-stuck-tasks) sees it; prints how many it found and marked. Uses the AWS credentials
 * and region of the environment (`AWS_PROFILE`, `AWS_REGION`), as the AWS CLI does; a Scan of the
 * whole table (read capacity: run it off-peak on a large table).
 */
export async function backfillUnfinished(
  table: string,
  options: { dryRun?: boolean; log?: (line: string) => void } = {},
): Promise<{ found: number; marked: number }> {
  const log = options.log ?? console.log;
  process.env.TABLE_NAME = table;
  resetConfig();
  const result = await taskRepository.markUnmarkedUnfinished({ dryRun: options.dryRun ?? false });
  log(
    options.dryRun
      ? `${table}: ${result.found} pending or processing task(s) without the unfinished mark (dry run: none marked)`
      : `${table}: ${result.found} pending or processing task(s) without the unfinished mark, ${result.marked} marked (the others finished meanwhile)`,
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { table: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  });
  if (!values.table) {
    console.error('usage: npm run ops:backfill-unfinished -- --table <TableName> [--dry-run]');
    process.exit(2);
  }
  backfillUnfinished(values.table, { dryRun: values['dry-run'] }).catch((error: unknown) => {
    console.error(`backfill failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

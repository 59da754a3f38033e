import { recordResultRows } from '../core/workflow/rows.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { TaskInputSchema } from '../core/workflow/step-io.ts';

/** States RecordResultRows / RecordFailedRows: mirror the finished task to Supabase rows. */
export const handler = workflowStep('RecordResultRows', TaskInputSchema, ({ task }) =>
  recordResultRows(task),
);

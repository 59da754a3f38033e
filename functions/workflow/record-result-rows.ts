import { workflowStep } from '../core/workflow/step.ts';
import { recordResultRows, TaskInputSchema } from '../core/workflow/steps.ts';

/** States RecordResultRows / RecordFailedRows: mirror the finished task to Supabase rows. */
export const handler = workflowStep('RecordResultRows', TaskInputSchema, ({ task }) =>
  recordResultRows(task),
);

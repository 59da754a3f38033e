import { markProcessing } from '../core/workflow/mark.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { TaskInputSchema } from '../core/workflow/step-io.ts';

/** State MarkTaskProcessing: pending → processing; tells the Choice which branch runs. */
export const handler = workflowStep('MarkTaskProcessing', TaskInputSchema, ({ task }) =>
  markProcessing(task),
);

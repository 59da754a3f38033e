import { workflowStep } from '../core/workflow/step.ts';
import { markProcessing, TaskInputSchema } from '../core/workflow/steps.ts';

/** State MarkTaskProcessing: pending → processing; tells the Choice which branch runs. */
export const handler = workflowStep('MarkTaskProcessing', TaskInputSchema, ({ task }) =>
  markProcessing(task),
);

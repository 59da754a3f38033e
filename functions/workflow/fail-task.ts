import { workflowStep } from '../core/workflow/step.ts';
import { failTask, StateErrorSchema, TaskInputSchema } from '../core/workflow/steps.ts';

/** State FailTask: the caught error becomes the task's `error` and `error_code`. */
export const handler = workflowStep(
  'FailTask',
  TaskInputSchema.extend({ error: StateErrorSchema }),
  ({ task, error }) => failTask(task, error),
);

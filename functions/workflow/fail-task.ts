import { failTask } from '../core/workflow/finish.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { StateErrorSchema, TaskInputSchema } from '../core/workflow/step-io.ts';

/** State FailTask: the caught error becomes the task's `error` and `error_code`. */
export const handler = workflowStep(
  'FailTask',
  TaskInputSchema.extend({ error: StateErrorSchema }),
  ({ task, error }) => failTask(task, error),
);

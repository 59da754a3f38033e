import { completeTask } from '../core/workflow/finish.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { ResultSchema, TaskInputSchema } from '../core/workflow/step-io.ts';

/** State CompleteTask: the task becomes complete with its stored results. */
export const handler = workflowStep(
  'CompleteTask',
  TaskInputSchema.extend({ result: ResultSchema }),
  ({ task, result }) => completeTask(task, result),
);

import { workflowStep } from '../core/workflow/step.ts';
import { completeTask, ResultSchema, TaskInputSchema } from '../core/workflow/steps.ts';

/** State CompleteTask: the task becomes complete with its stored results. */
export const handler = workflowStep(
  'CompleteTask',
  TaskInputSchema.extend({ result: ResultSchema }),
  ({ task, result }) => completeTask(task, result),
);

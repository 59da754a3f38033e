import { workflowStep } from '../core/workflow/step.ts';
import { submitProviderJob, TaskInputSchema } from '../core/workflow/steps.ts';

/** State SubmitProviderJob: creates the asynchronous provider job and records its id. */
export const handler = workflowStep('SubmitProviderJob', TaskInputSchema, ({ task }) =>
  submitProviderJob(task),
);

import { submitProviderJob } from '../core/workflow/async-jobs.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { TaskInputSchema } from '../core/workflow/step-io.ts';

/** State SubmitProviderJob: creates the asynchronous provider job and records its id. */
export const handler = workflowStep('SubmitProviderJob', TaskInputSchema, ({ task }) =>
  submitProviderJob(task),
);

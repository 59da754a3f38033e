import { pollProviderJob } from '../core/workflow/async-jobs.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { ProviderJobSchema, TaskInputSchema } from '../core/workflow/step-io.ts';

/** State PollProviderJob: one poll of the provider job; stores the result when it is ready. */
export const handler = workflowStep(
  'PollProviderJob',
  TaskInputSchema.extend({ job: ProviderJobSchema }),
  ({ task, job }) => pollProviderJob(task, job),
);

import { workflowStep } from '../core/workflow/step.ts';
import { ProviderJobSchema, pollProviderJob, TaskInputSchema } from '../core/workflow/steps.ts';

/** State PollProviderJob: one poll of the provider job; stores the result when it is ready. */
export const handler = workflowStep(
  'PollProviderJob',
  TaskInputSchema.extend({ job: ProviderJobSchema }),
  ({ task, job }) => pollProviderJob(task, job),
);

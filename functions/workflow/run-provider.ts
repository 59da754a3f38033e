import { workflowStep } from '../core/workflow/step.ts';
import { runProvider, TaskInputSchema } from '../core/workflow/steps.ts';

/** State RunProvider: a synchronous provider call; results stored, paths returned. */
export const handler = workflowStep('RunProvider', TaskInputSchema, ({ task }) => runProvider(task));

import { runProvider } from '../core/workflow/run.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { TaskInputSchema } from '../core/workflow/step-io.ts';

/** State RunProvider: a synchronous provider call; results stored, paths returned. */
export const handler = workflowStep('RunProvider', TaskInputSchema, ({ task }) => runProvider(task));

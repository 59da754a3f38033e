import { workflowStep } from '../core/workflow/step.ts';
import { runProvider, TaskInputSchema } from '../core/workflow/steps.ts';

/**
 * State ProcessImage: operations served inside the BFF (downscale). The same step as
 * RunProvider, deployed as its own Lambda with the memory that decoding large images needs.
 */
export const handler = workflowStep('ProcessImage', TaskInputSchema, ({ task }) => runProvider(task));

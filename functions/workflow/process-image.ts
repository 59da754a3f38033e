import { processImage } from '../core/workflow/process-image.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { TaskInputSchema } from '../core/workflow/step-io.ts';

/**
 * State ProcessImage: operations served inside the BFF (downscale). The same step as
 * RunProvider, deployed as its own Lambda with the memory that decoding large images needs; it
 * loads the image code only, no provider.
 */
export const handler = workflowStep('ProcessImage', TaskInputSchema, ({ task }) => processImage(task));

import { downscaleOperation } from '../operations/downscale.ts';
import type { SyncProviderOperation } from '../operations/provider-operation.ts';
import type { TaskRef } from '../tasks/task.ts';
import type { StepResult } from './step-io.ts';
import { runSync } from './sync-run.ts';

/**
 * The operations served inside the BFF (`runsOn: 'image-processing'`), which the state machine
 * sends to ProcessImage. Listed here rather than looked up in the runnable catalogue, so the image
 * Lambda carries the image code and no provider client.
 */
const IMAGE_OPERATIONS: Record<string, SyncProviderOperation> = {
  [`downscale/${downscaleOperation.provider}`]: downscaleOperation,
};

/** State ProcessImage: the same step as RunProvider (sync-run.ts) for an in-BFF operation. */
export async function processImage(task: TaskRef): Promise<StepResult> {
  const entry = IMAGE_OPERATIONS[`${task.operation}/${task.provider}`];
  if (entry?.runsOn !== 'image-processing') {
    throw new Error(`${task.operation}/${task.provider} is not an image-processing operation`);
  }
  return runSync(task, entry);
}

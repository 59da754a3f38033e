import {
  ProviderResultUnavailableError,
  ProviderUnavailableError,
  ResultDownloadFailedError,
  StorageUnavailableError,
} from '../errors.ts';
import type { SyncProviderOperation } from '../operations/provider-operation.ts';
import { fetchInputs } from '../storage/input-fetcher.ts';
import type { TaskRef } from '../tasks/task.ts';
import type { StepResult } from './step-io.ts';
import { providerCall, storeFiles } from './store-results.ts';

/**
 * Synchronous providers: fetch inputs, call, store every result, return paths (never bytes).
 * Once the provider has answered, nothing this step does may make the state machine run it
 * again (that would be a second paid call): a result that cannot be downloaded or stored after
 * the retries inside the step fails the task with an error the state machine does not retry.
 */
export async function runSync(task: TaskRef, entry: SyncProviderOperation): Promise<StepResult> {
  const inputs = await fetchInputs(task.params, entry.inputFields);
  let produced: Awaited<ReturnType<typeof entry.run>>;
  try {
    produced = await providerCall(task, 'run', () =>
      entry.run(task.params, inputs, { tenantId: task.tenant_id }),
    );
  } catch (error) {
    if (error instanceof ProviderResultUnavailableError) {
      throw new ResultDownloadFailedError(
        `${error.summary}; ${error.provider} was not called again, so the result was not paid for twice; submitting the task again may help`,
        { cause: error },
      );
    }
    throw error;
  }
  const { files, sent, facts } = produced;
  const assets = await storeFiles(task, files, (summary, cause) =>
    entry.runsOn === 'image-processing'
      ? // No provider was paid (the BFF made the image): the state machine may run the step again.
        new ProviderUnavailableError(`${summary}; retrying may help`, { cause })
      : new StorageUnavailableError(
          `${summary}; the provider was not called again, so the result was not paid for twice; submitting the task again may help`,
          { cause },
        ),
  );
  return { assets, sent, ...(facts ? { facts } : {}) };
}

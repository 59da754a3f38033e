import { ProviderUnavailableError } from '../errors.ts';
import { METRIC, MetricUnit, putMetric } from '../observability/metrics.ts';
import { traced } from '../observability/tracing.ts';
import type { GeneratedFile } from '../operations/provider-operation.ts';
import { assetStorage, resultPath } from '../storage/asset-storage.ts';
import type { StoredAsset, TaskRef } from '../tasks/task.ts';
import { type AttemptOutcome, attemptsText, type RetryPolicy, retrying } from '../transient-retry.ts';

/** What the states that call a provider or make a result share: timing the call, storing files. */

/**
 * One call to the provider (a synchronous run, an async job's create, one poll): an X-Ray
 * subsegment around it (in Lambda) and its duration as ProviderLatency, whatever its outcome.
 */
export function providerCall<T>(
  task: TaskRef,
  phase: 'run' | 'submit' | 'poll',
  call: () => Promise<T>,
): Promise<T> {
  const { operation, provider } = task;
  return traced(`${provider} ${phase}`, { operation, provider, phase }, async () => {
    // Timed inside the subsegment: loading the tracer on a cold start is not the provider's time.
    const started = performance.now();
    try {
      return await call();
    } finally {
      putMetric(
        METRIC.ProviderLatency,
        { provider, operation },
        Math.round(performance.now() - started),
        MetricUnit.Milliseconds,
      );
    }
  });
}

/**
 * How each result upload retries inside its step: about a minute in all with production waits,
 * which still fits a poll step (five minutes) after the poll and the downloads.
 */
export const RESULT_UPLOAD_RETRY: RetryPolicy = {
  attempts: 6,
  baseMs: 1000,
  maxWaitMs: 15_000,
  budgetMs: 60_000,
};

/**
 * Uploads every result, all at once and each on its own: a failed upload is retried in place
 * (RESULT_UPLOAD_RETRY), so the provider is never called again because of Storage, and a file
 * already stored is never sent again. When an upload still fails, `exhausted` makes the error
 * the step throws from a sentence that says what failed.
 */
export async function storeFiles(
  task: TaskRef,
  files: GeneratedFile[],
  exhausted: (summary: string, cause: unknown) => Error,
): Promise<StoredAsset[]> {
  // Every upload runs to its end (stored, or out of attempts) before the step answers.
  const settled = await Promise.allSettled(
    files.map((file, index) => storeFile(task, file, index, exhausted)),
  );
  const assets: StoredAsset[] = [];
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    assets.push(result.value);
  }
  return assets;
}

async function storeFile(
  task: TaskRef,
  file: GeneratedFile,
  index: number,
  exhausted: (summary: string, cause: unknown) => Error,
): Promise<StoredAsset> {
  const path = resultPath(task.tenant_id, task.client_task_id, task.job_id, index, file.extension);
  return retrying(
    RESULT_UPLOAD_RETRY,
    async (): Promise<AttemptOutcome<StoredAsset>> => {
      try {
        await assetStorage.upload(path, file.bytes, file.contentType);
        return { ok: true, value: { path, content_type: file.contentType, bytes: file.bytes.length } };
      } catch (error) {
        // Only transient failures (outage, reset, rate limit) are worth another attempt.
        if (!(error instanceof ProviderUnavailableError)) throw error;
        return { ok: false, reason: error.message, cause: error };
      }
    },
    {
      warning: 'Result upload failed; trying again',
      fields: { job_id: task.job_id, index },
      giveUp: (attempts, { reason, cause }) =>
        exhausted(
          `Could not store result ${index + 1} (${file.contentType}) after ${attemptsText(attempts)}: ${reason}`,
          cause,
        ),
    },
  );
}

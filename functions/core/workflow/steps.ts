import * as z from 'zod';
import {
  errorCodeFor,
  JobDeadlineExceededError,
  ProviderOutcomeUnknownError,
  ProviderResultUnavailableError,
  ProviderUnavailableError,
  ResultDownloadFailedError,
  StorageUnavailableError,
} from '../errors.ts';
import { logger } from '../logger.ts';
import { countTaskFailure, METRIC, MetricUnit, putMetric } from '../observability/metrics.ts';
import { traced } from '../observability/tracing.ts';
import { operationEntry } from '../operations/catalogue.ts';
import type { GeneratedFile } from '../operations/provider-operation.ts';
import { assetStorage, resultPath } from '../storage/asset-storage.ts';
import { fetchInputs } from '../storage/input-fetcher.ts';
import { rowsForTask, tableFor, upsertRows, upsertRowsBestEffort } from '../storage/result-rows.ts';
import { type StoredAsset, StoredAssetSchema, type TaskRef, TaskRefSchema } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';
import { backoffMs, mayRetry, pause, type RetryPolicy } from '../transient-retry.ts';
import { DEFAULT_POLL_PACING, firstPollWait, nextPollWait } from './poll-schedule.ts';

/**
 * The work of each state of state-machines/generation.asl.json. Each function is idempotent:
 * a retried step overwrites the same objects and repeats the same conditional writes.
 */

export const ResultSchema = z.object({
  assets: z.array(StoredAssetSchema).min(1),
  sent: z.record(z.string(), z.unknown()).default({}),
  facts: z.record(z.string(), z.unknown()).optional(),
});
export type StepResult = z.infer<typeof ResultSchema>;

/** How long an asynchronous provider job may take before the task fails as timed out. */
export const ASYNC_JOB_DEADLINE_SECONDS = 30 * 60;

/** Which branch of the state machine runs the task. */
export type ExecutionMode = 'sync' | 'async' | 'image-processing';

export async function markProcessing(task: TaskRef): Promise<{ mode: ExecutionMode }> {
  const entry = operationEntry(task.operation, task.provider);
  await taskRepository.markProcessing(task.tenant_id, task.job_id);
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (current) await upsertRowsBestEffort(tableFor(entry.resultKind), rowsForTask(current, []));
  return {
    mode: entry.mode === 'sync' && entry.runsOn === 'image-processing' ? 'image-processing' : entry.mode,
  };
}

/**
 * One call to the provider (a synchronous run, an async job's create, one poll): an X-Ray
 * subsegment around it (in Lambda) and its duration as ProviderLatency, whatever its outcome.
 */
function providerCall<T>(
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
async function storeFiles(
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
  const policy = RESULT_UPLOAD_RETRY;
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await assetStorage.upload(path, file.bytes, file.contentType);
      return { path, content_type: file.contentType, bytes: file.bytes.length };
    } catch (error) {
      // Only transient failures (outage, reset, rate limit) are worth another attempt.
      if (!(error instanceof ProviderUnavailableError)) throw error;
      const wait = backoffMs(policy, attempt);
      if (!mayRetry(policy, attempt, wait, startedAt)) {
        throw exhausted(
          `Could not store result ${index + 1} (${file.contentType}) after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${error.message}`,
          error,
        );
      }
      logger.warn('Result upload failed; trying again', {
        job_id: task.job_id,
        index,
        attempt,
        wait_ms: wait,
        reason: error.message,
      });
      await pause(wait);
    }
  }
}

/**
 * Synchronous providers: fetch inputs, call, store every result, return paths (never bytes).
 * Once the provider has answered, nothing this step does may make the state machine run it
 * again (that would be a second paid call): a result that cannot be downloaded or stored after
 * the retries inside the step fails the task with an error the state machine does not retry.
 */
export async function runProvider(task: TaskRef): Promise<StepResult> {
  const entry = operationEntry(task.operation, task.provider);
  if (entry.mode !== 'sync')
    throw new Error(`${task.operation}/${task.provider} is not a synchronous operation`);
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

export const ProviderJobSchema = z.object({
  status: z.enum(['pending', 'done']),
  provider_job_id: z.string(),
  state: z.record(z.string(), z.unknown()),
  wait_seconds: z.number().int().min(0),
  deadline: z.string(),
  /** When the job was submitted (or resumed): the poll schedule estimates from the time since. */
  started_at: z.string().optional(),
  sent: z.record(z.string(), z.unknown()).default({}),
  result: ResultSchema.optional(),
});
export type ProviderJob = z.infer<typeof ProviderJobSchema>;

/**
 * Asynchronous providers: submit once and record the provider's job id before any polling. A
 * task that already has one (the step ran before: a retry after a late failure, or a rerun after
 * a restart) resumes that job: providers offer no idempotency key, so a second create would be a
 * second bill.
 */
export async function submitProviderJob(task: TaskRef): Promise<ProviderJob> {
  const entry = operationEntry(task.operation, task.provider);
  if (entry.mode !== 'async')
    throw new Error(`${task.operation}/${task.provider} is not an asynchronous operation`);
  const startedAt = Date.now();
  const deadline = new Date(
    startedAt + (entry.deadlineSeconds ?? ASYNC_JOB_DEADLINE_SECONDS) * 1000,
  ).toISOString();
  const pacing = entry.polling ?? DEFAULT_POLL_PACING;
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (current?.ai_service_task_id && current.provider_state) {
    return {
      status: 'pending',
      provider_job_id: current.ai_service_task_id,
      state: current.provider_state,
      // The job has been running for an unknown time already: look soon.
      wait_seconds: pacing.minWaitSeconds,
      deadline,
      started_at: new Date(startedAt).toISOString(),
      sent: { resumed: true },
    };
  }
  if (current?.provider_create_started_at) {
    // An earlier run sent the paid create and stopped before recording its answer (a crash or a
    // timeout of this step). The provider may have made the job; it is not created again.
    throw new ProviderOutcomeUnknownError(
      `${entry.provider} may or may not have created the job: an earlier attempt stopped after sending the request (at ${current.provider_create_started_at}) and before recording the answer; it was not sent again, so it is never paid twice; submitting the request again may help`,
    );
  }
  const inputs = await fetchInputs(task.params, entry.inputFields);
  const submitted = await providerCall(task, 'submit', () =>
    entry.submit(task.params, inputs, {
      tenantId: task.tenant_id,
      guardCreate: (create) => guardedCreate(task, create),
    }),
  );
  await taskRepository.setProviderJob(task.tenant_id, task.job_id, submitted.providerJobId, submitted.state);
  return {
    status: 'pending',
    provider_job_id: submitted.providerJobId,
    state: submitted.state,
    wait_seconds: firstPollWait(pacing),
    deadline,
    started_at: new Date(startedAt).toISOString(),
    sent: submitted.sent,
  };
}

/**
 * The crash window of a paid create is the request itself plus one write: the note goes out just
 * before the request and is replaced by the job id right after the answer. A declined create
 * (the provider made no job) clears the note so the state machine's retry may send it again.
 */
async function guardedCreate<T>(task: TaskRef, create: () => Promise<T>): Promise<T> {
  if (!(await taskRepository.markProviderCreateStarted(task.tenant_id, task.job_id))) {
    throw new ProviderOutcomeUnknownError(
      `${task.provider} job creation was already started for this task; it was not sent again, so it is never paid twice; submitting the request again may help`,
    );
  }
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof ProviderOutcomeUnknownError)) {
      await taskRepository.clearProviderCreateStarted(task.tenant_id, task.job_id);
    }
    throw error;
  }
}

/**
 * One poll; the state machine's Wait → Poll → Choice loop repeats it, each time waiting as long
 * as the poll schedule (poll-schedule.ts) says from the provider's progress.
 */
export async function pollProviderJob(task: TaskRef, job: ProviderJob): Promise<ProviderJob> {
  const entry = operationEntry(task.operation, task.provider);
  if (entry.mode !== 'async')
    throw new Error(`${task.operation}/${task.provider} is not an asynchronous operation`);
  const outcome = await providerCall(task, 'poll', () => entry.poll(job.state, { tenantId: task.tenant_id }));
  if (outcome.status === 'done') {
    // Provider result URLs expire in minutes: store the files now. Should Storage stay down, the
    // state machine may retry this step: that polls again (free) and downloads fresh URLs.
    const assets = await storeFiles(
      task,
      outcome.files,
      (summary, cause) => new ProviderUnavailableError(`${summary}; retrying may help`, { cause }),
    );
    return { ...job, status: 'done', result: { assets, sent: { ...job.sent, ...outcome.sent } } };
  }
  if (Date.now() > Date.parse(job.deadline)) {
    const minutes = Math.round((entry.deadlineSeconds ?? ASYNC_JOB_DEADLINE_SECONDS) / 60);
    throw new JobDeadlineExceededError(
      `${task.provider} did not finish within ${minutes} minutes (timed out); retrying may help`,
    );
  }
  if (outcome.progress !== undefined) {
    await taskRepository.updateProgress(task.tenant_id, task.job_id, outcome.progress);
  }
  const now = Date.now();
  // A job submitted before `started_at` existed: its deadline tells when it started.
  const startedAt = job.started_at
    ? Date.parse(job.started_at)
    : Date.parse(job.deadline) - (entry.deadlineSeconds ?? ASYNC_JOB_DEADLINE_SECONDS) * 1000;
  const wait = nextPollWait(entry.polling ?? DEFAULT_POLL_PACING, {
    elapsedSeconds: (now - startedAt) / 1000,
    secondsToDeadline: (Date.parse(job.deadline) - now) / 1000,
    progress: outcome.progress,
    providerWaitSeconds: outcome.waitSeconds,
    previousWaitSeconds: job.wait_seconds,
  });
  return { ...job, status: 'pending', wait_seconds: wait };
}

export async function completeTask(task: TaskRef, result: StepResult): Promise<void> {
  const entry = operationEntry(task.operation, task.provider);
  const completed = await taskRepository.markComplete(
    task.tenant_id,
    task.job_id,
    result.assets,
    { sent: result.sent, ...(result.facts ? { facts: result.facts } : {}) },
    entry.reportsProgress,
  );
  // Counted once: a retried step finds the task complete already and changes nothing.
  if (completed) {
    const dimensions = { operation: task.operation, provider: task.provider };
    putMetric(METRIC.TaskCompleted, dimensions);
    const bytes = result.assets.reduce((total, asset) => total + asset.bytes, 0);
    putMetric(METRIC.ResultBytes, dimensions, bytes, MetricUnit.Bytes);
  }
}

export const StateErrorSchema = z.object({ Error: z.string(), Cause: z.unknown().optional() });

/** The human sentence for a failed state: the error's own message where it has one. */
export function failureMessage(error: z.infer<typeof StateErrorSchema>): string {
  const cause = error.Cause;
  let message: string | undefined;
  if (typeof cause === 'string' && cause.trim() !== '') {
    // AWS Lambda puts `{"errorType","errorMessage","trace"}` in Cause; the local runner the message.
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      message = typeof parsed.errorMessage === 'string' ? parsed.errorMessage : cause;
    } catch {
      message = cause;
    }
  }
  if (error.Error === 'States.Timeout') {
    return 'The task timed out before the provider answered; retrying may help';
  }
  if (errorCodeFor(error.Error) === 'internal') {
    logger.error('Task failed with an unexpected error', { error_name: error.Error, error_message: message });
    return 'The task failed because of an internal error; retrying may help';
  }
  return message ?? `The task failed (${error.Error})`;
}

export async function failTask(
  task: TaskRef,
  error: z.infer<typeof StateErrorSchema>,
): Promise<{ error: string; error_code: string }> {
  const message = failureMessage(error);
  const errorCode = errorCodeFor(error.Error);
  // Counted once: a retried step finds the task failed already and changes nothing.
  if (await taskRepository.markFailed(task.tenant_id, task.job_id, message, errorCode)) {
    countTaskFailure(task, errorCode);
  }
  return { error: message, error_code: errorCode };
}

/**
 * Mirrors the finished task to its Supabase rows; throws so the state's Retry applies. Once the
 * rows hold the final status, the task leaves the index of unfinished tasks; until then the
 * scheduled reconciler (functions/core/tasks/reconcile.ts) writes them again.
 */
export async function recordResultRows(task: TaskRef): Promise<void> {
  const entry = operationEntry(task.operation, task.provider);
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (!current) return;
  const urls =
    current.status === 'complete'
      ? await Promise.all((current.assets ?? []).map((a) => assetStorage.urlFor(a.path)))
      : [];
  await upsertRows(tableFor(entry.resultKind), rowsForTask(current, urls));
  if (current.status === 'complete' || current.status === 'failed') {
    await taskRepository.markRowsRecorded(task.tenant_id, task.job_id);
  }
}

export const TaskInputSchema = z.object({ task: TaskRefSchema });

import { z } from 'zod';
import { errorCodeFor, JobDeadlineExceededError } from '../errors.ts';
import { logger } from '../logger.ts';
import { operationEntry } from '../operations/catalogue.ts';
import type { GeneratedFile } from '../operations/provider-operation.ts';
import { assetStorage, resultPath } from '../storage/asset-storage.ts';
import { fetchInputs } from '../storage/input-fetcher.ts';
import { rowsForTask, tableFor, upsertRows, upsertRowsBestEffort } from '../storage/result-rows.ts';
import { type StoredAsset, StoredAssetSchema, type TaskRef, TaskRefSchema } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';

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

async function storeFiles(task: TaskRef, files: GeneratedFile[]): Promise<StoredAsset[]> {
  return Promise.all(
    files.map(async (file, index) => {
      const path = resultPath(task.tenant_id, task.client_task_id, task.job_id, index, file.extension);
      await assetStorage.upload(path, file.bytes, file.contentType);
      return { path, content_type: file.contentType, bytes: file.bytes.length };
    }),
  );
}

/** Synchronous providers: fetch inputs, call, store every result, return paths (never bytes). */
export async function runProvider(task: TaskRef): Promise<StepResult> {
  const entry = operationEntry(task.operation, task.provider);
  if (entry.mode !== 'sync')
    throw new Error(`${task.operation}/${task.provider} is not a synchronous operation`);
  const inputs = await fetchInputs(task.params, entry.inputFields);
  const { files, sent, facts } = await entry.run(task.params, inputs, { tenantId: task.tenant_id });
  return { assets: await storeFiles(task, files), sent, ...(facts ? { facts } : {}) };
}

export const ProviderJobSchema = z.object({
  status: z.enum(['pending', 'done']),
  provider_job_id: z.string(),
  state: z.record(z.string(), z.unknown()),
  wait_seconds: z.number().int().min(0),
  deadline: z.string(),
  sent: z.record(z.string(), z.unknown()).default({}),
  result: ResultSchema.optional(),
});
export type ProviderJob = z.infer<typeof ProviderJobSchema>;

const FIRST_WAIT_SECONDS = 2;
const MAX_WAIT_SECONDS = 30;

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
  const deadline = new Date(
    Date.now() + (entry.deadlineSeconds ?? ASYNC_JOB_DEADLINE_SECONDS) * 1000,
  ).toISOString();
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (current?.ai_service_task_id && current.provider_state) {
    return {
      status: 'pending',
      provider_job_id: current.ai_service_task_id,
      state: current.provider_state,
      wait_seconds: FIRST_WAIT_SECONDS,
      deadline,
      sent: { resumed: true },
    };
  }
  const inputs = await fetchInputs(task.params, entry.inputFields);
  const submitted = await entry.submit(task.params, inputs, { tenantId: task.tenant_id });
  await taskRepository.setProviderJob(task.tenant_id, task.job_id, submitted.providerJobId, submitted.state);
  return {
    status: 'pending',
    provider_job_id: submitted.providerJobId,
    state: submitted.state,
    wait_seconds: FIRST_WAIT_SECONDS,
    deadline,
    sent: submitted.sent,
  };
}

/** One poll; the state machine's Wait → Poll → Choice loop repeats it with growing waits. */
export async function pollProviderJob(task: TaskRef, job: ProviderJob): Promise<ProviderJob> {
  const entry = operationEntry(task.operation, task.provider);
  if (entry.mode !== 'async')
    throw new Error(`${task.operation}/${task.provider} is not an asynchronous operation`);
  const outcome = await entry.poll(job.state, { tenantId: task.tenant_id });
  if (outcome.status === 'done') {
    // Provider result URLs expire in minutes: store the files now.
    const assets = await storeFiles(task, outcome.files);
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
  const wait =
    outcome.waitSeconds ?? Math.min(MAX_WAIT_SECONDS, Math.max(FIRST_WAIT_SECONDS, job.wait_seconds * 2));
  return { ...job, status: 'pending', wait_seconds: Math.max(1, Math.round(wait)) };
}

export async function completeTask(task: TaskRef, result: StepResult): Promise<void> {
  const entry = operationEntry(task.operation, task.provider);
  await taskRepository.markComplete(
    task.tenant_id,
    task.job_id,
    result.assets,
    { sent: result.sent, ...(result.facts ? { facts: result.facts } : {}) },
    entry.reportsProgress,
  );
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
  await taskRepository.markFailed(task.tenant_id, task.job_id, message, errorCode);
  return { error: message, error_code: errorCode };
}

/** Mirrors the finished task to its Supabase rows; throws so the state's Retry applies. */
export async function recordResultRows(task: TaskRef): Promise<void> {
  const entry = operationEntry(task.operation, task.provider);
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (!current) return;
  const urls =
    current.status === 'complete'
      ? await Promise.all((current.assets ?? []).map((a) => assetStorage.urlFor(a.path)))
      : [];
  await upsertRows(tableFor(entry.resultKind), rowsForTask(current, urls));
}

export const TaskInputSchema = z.object({ task: TaskRefSchema });

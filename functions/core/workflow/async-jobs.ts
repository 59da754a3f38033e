import {
  JobDeadlineExceededError,
  ProviderOutcomeUnknownError,
  ProviderUnavailableError,
} from '../errors.ts';
import { logger } from '../logger.ts';
import { asyncCatalogue } from '../operations/async-catalogue.ts';
import { fetchInputs } from '../storage/input-fetcher.ts';
import type { TaskRef } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';
import { type CallbackSetup, callbackSetup } from '../webhooks/callback-setup.ts';
import { callbackTimeout } from './callback-wait.ts';
import { DEFAULT_POLL_PACING, firstPollWait, nextPollWait } from './poll-schedule.ts';
import type { ProviderJob } from './step-io.ts';
import { providerCall, storeFiles } from './store-results.ts';

/** How long an asynchronous provider job may take before the task fails as timed out. */
export const ASYNC_JOB_DEADLINE_SECONDS = 30 * 60;

/**
 * Asynchronous providers: submit once and record the provider's job id before any polling. A
 * task that already has one (the step ran before: a retry after a late failure, or a rerun after
 * a restart) resumes that job: providers offer no idempotency key, so a second create would be a
 * second bill.
 */
export async function submitProviderJob(task: TaskRef): Promise<ProviderJob> {
  const entry = asyncCatalogue.entry(task.operation, task.provider);
  if (entry.mode !== 'async')
    throw new Error(`${task.operation}/${task.provider} is not an asynchronous operation`);
  const startedAt = Date.now();
  const deadline = new Date(
    startedAt + (entry.deadlineSeconds ?? ASYNC_JOB_DEADLINE_SECONDS) * 1000,
  ).toISOString();
  const pacing = entry.polling ?? DEFAULT_POLL_PACING;
  const current = await taskRepository.get(task.tenant_id, task.job_id);
  if (current?.ai_service_task_id && current.provider_state) {
    // The job has been running for an unknown time already: look soon, by polling (a webhook
    // for it may have come and gone while this step was not running).
    return {
      status: 'pending',
      provider_job_id: current.ai_service_task_id,
      state: current.provider_state,
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
  const callbacks: CallbackSetup | undefined = await callbackSetup(task);
  const submitted = await providerCall(task, 'submit', () =>
    entry.submit(task.params, inputs, {
      tenantId: task.tenant_id,
      guardCreate: (create) => guardedCreate(task, create),
      ...(callbacks?.webhook ? { webhook: callbacks.webhook } : {}),
    }),
  );
  await taskRepository.setProviderJob(task.tenant_id, task.job_id, submitted.providerJobId, submitted.state);
  // Written after the job id, before any wait: a webhook that comes sooner finds the task
  // through it (or, for BFL, its URL token) and notes its arrival for the wait to see.
  const linked = callbacks ? await callbacks.link(submitted.providerJobId) : false;
  return {
    status: 'pending',
    provider_job_id: submitted.providerJobId,
    state: submitted.state,
    wait_seconds: firstPollWait(pacing),
    deadline,
    started_at: new Date(startedAt).toISOString(),
    sent: submitted.sent,
    ...(linked
      ? {
          callback_timeout_seconds: callbackTimeout(pacing, {
            elapsedSeconds: (Date.now() - startedAt) / 1000,
            secondsToDeadline: (Date.parse(deadline) - Date.now()) / 1000,
          }),
          callback_phase: 'first' as const,
        }
      : {}),
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
  const entry = asyncCatalogue.entry(task.operation, task.provider);
  if (entry.mode !== 'async')
    throw new Error(`${task.operation}/${task.provider} is not an asynchronous operation`);
  const via = resumedBy(job);
  if (via) {
    logger.info(
      via === 'webhook'
        ? 'Provider job resumed by webhook: polling its status'
        : 'No provider webhook within the expected time: polling',
      { resumed_by: via },
    );
  }
  const outcome = await providerCall(task, 'poll', () => entry.poll(job.state, { tenantId: task.tenant_id }));
  if (outcome.status === 'done') {
    // Provider result URLs expire in minutes: store the files now. Should Storage stay down, the
    // state machine may retry this step: that polls again (free) and downloads fresh URLs.
    const assets = await storeFiles(
      task,
      outcome.files,
      (summary, cause) => new ProviderUnavailableError(`${summary}; retrying may help`, { cause }),
    );
    const { resumed_by: _resumedBy, ...rest } = job;
    return { ...rest, status: 'done', result: { assets, sent: { ...job.sent, ...outcome.sent } } };
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
  const pacing = entry.polling ?? DEFAULT_POLL_PACING;
  const moment = {
    elapsedSeconds: (now - startedAt) / 1000,
    secondsToDeadline: (Date.parse(job.deadline) - now) / 1000,
    progress: outcome.progress,
  };
  const wait = nextPollWait(pacing, {
    ...moment,
    providerWaitSeconds: outcome.waitSeconds,
    previousWaitSeconds: job.wait_seconds,
  });
  const { resumed_by: _resumedBy, callback_timeout_seconds: previousTimeout, callback_phase, ...rest } = job;
  if (previousTimeout === undefined) return { ...rest, status: 'pending', wait_seconds: wait };
  // A job the provider calls back for keeps waiting on a token, so a late webhook still ends the
  // wait at once. When the first wait timed out, progress gives the remaining time once; a
  // webhook expected by then and not come (or a callback while the job still runs, or a wait
  // that failed) means the waits follow the polling cadence from then on.
  const informed =
    callback_phase === 'first' &&
    via === 'timeout' &&
    outcome.progress !== undefined &&
    outcome.progress > 0 &&
    outcome.progress < 100;
  return {
    ...rest,
    status: 'pending',
    wait_seconds: wait,
    callback_timeout_seconds: informed
      ? callbackTimeout(pacing, { ...moment, previousTimeoutSeconds: previousTimeout })
      : Math.max(1, wait),
    callback_phase: informed ? 'informed' : 'polling',
  };
}

/** How the last callback wait ended, for the log: `webhook`, `timeout`, or undefined (a Wait state). */
export function resumedBy(job: ProviderJob): 'webhook' | 'timeout' | undefined {
  const note = job.resumed_by as { via?: unknown; Error?: unknown } | undefined;
  if (!note || typeof note !== 'object') return undefined;
  if (note.Error === 'States.Timeout') return 'timeout';
  return note.via === 'webhook' ? 'webhook' : undefined;
}

import {
  JobDeadlineExceededError,
  ProviderOutcomeUnknownError,
  ProviderUnavailableError,
} from '../errors.ts';
import { asyncCatalogue } from '../operations/async-catalogue.ts';
import { fetchInputs } from '../storage/input-fetcher.ts';
import type { TaskRef } from '../tasks/task.ts';
import { taskRepository } from '../tasks/task-repository.ts';
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
  const entry = asyncCatalogue.entry(task.operation, task.provider);
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

import type { Tenant } from '../auth/api-keys.ts';
import { getConfig } from '../config.ts';
import { ConflictError, ServiceUnavailableError } from '../errors.ts';
import { startTaskExecution } from '../executions/execution-starter.ts';
import { describeError, type Logger } from '../logger.ts';
import { countTaskFailure, METRIC, putMetric } from '../observability/metrics.ts';
import { validateGenerationRequest as validateGeneration } from '../operations/request-validation.ts';
import { rowsForTask, tableFor, upsertRowsBestEffort } from '../storage/result-rows.ts';
import { nowEpochSeconds } from '../store/dynamo.ts';
import { idempotencyStore, requestFingerprint, validateIdempotencyKey } from './idempotency.ts';
import { newJobId } from './job-id.ts';
import type { Task, TaskRef } from './task.ts';
import { taskRepository } from './task-repository.ts';

export interface AcceptedBody {
  celery_task_id: string;
  task_id: string;
  status: 'pending';
  status_url: string;
}

export interface SubmitResult {
  /** 202 for a new job, 200 for an idempotent repeat. */
  statusCode: 200 | 202;
  body: AcceptedBody;
}

function acceptedBody(jobId: string, clientTaskId: string): AcceptedBody {
  return {
    celery_task_id: jobId,
    task_id: clientTaskId,
    status: 'pending',
    status_url: `/tasks/${jobId}/status`,
  };
}

/**
 * The submit path (docs/api.md, Generation requests): validate, claim the idempotency key, write
 * the pending task, mirror it to the rows, start the execution. Nothing slow: no input download
 * and no provider call happen here.
 */
export async function submitGeneration(input: {
  tenant: Tenant;
  operation: string;
  body: unknown;
  idempotencyKey: string | undefined;
  log: Logger;
}): Promise<SubmitResult> {
  const { tenant, operation, body, log } = input;
  const { entry, clientTaskId, params } = validateGeneration(operation, body);
  // Every later line of this request names what it asks for.
  log.appendKeys({ operation, provider: entry.provider });
  const jobId = newJobId(clientTaskId);
  const idempotencyKey =
    input.idempotencyKey === undefined ? undefined : validateIdempotencyKey(input.idempotencyKey);

  const ref: TaskRef = {
    tenant_id: tenant.tenant_id,
    job_id: jobId,
    client_task_id: clientTaskId,
    operation,
    provider: entry.provider,
    params,
  };

  if (idempotencyKey) {
    const repeat = await claimOrRepeat(ref, idempotencyKey, requestFingerprint(operation, body), log).catch(
      (error: unknown) => {
        if (error instanceof ConflictError) throw error;
        log.error('Idempotency store unavailable', describeError(error));
        throw new ServiceUnavailableError('The service is temporarily unavailable; please retry shortly');
      },
    );
    if (repeat) return { statusCode: 200, body: acceptedBody(repeat, clientTaskId) };
  }

  log.appendKeys({ job_id: jobId });
  // The claim and the task succeed together or the claim is given back: a repeat must never get
  // a job id that does not exist.
  try {
    if (!(await taskRepository.create(ref))) throw new Error(`Job id collision for ${jobId}`);
  } catch (error) {
    log.error('Could not record the task', { job_id: jobId, ...describeError(error) });
    if (idempotencyKey) await releaseClaim(tenant.tenant_id, idempotencyKey, jobId, log);
    throw new ServiceUnavailableError('The task could not be recorded; please retry shortly');
  }

  const now = new Date().toISOString();
  const pending: Task = { ...ref, status: 'pending', created_at: now, updated_at: now };
  await upsertRowsBestEffort(tableFor(entry.resultKind), rowsForTask(pending, []));

  try {
    await startTaskExecution(ref);
  } catch (error) {
    log.error('Could not start the workflow', { job_id: jobId, ...describeError(error) });
    await taskRepository
      .markFailed(tenant.tenant_id, jobId, 'The task could not be started; retrying may help', 'internal')
      .then((failed) => {
        // The service's fault (the alarm's ServiceFailure), though the client was answered 503.
        if (failed) countTaskFailure(ref, 'internal');
      })
      .catch((markError: unknown) => log.error('Could not mark the task failed', describeError(markError)));
    if (idempotencyKey) await releaseClaim(tenant.tenant_id, idempotencyKey, jobId, log);
    throw new ServiceUnavailableError('The task could not be started; please retry shortly');
  }
  log.info('Task accepted', { job_id: jobId, operation, provider: entry.provider });
  putMetric(METRIC.TaskSubmitted, { operation, provider: entry.provider });
  return { statusCode: 202, body: acceptedBody(jobId, clientTaskId) };
}

/**
 * Claims the Idempotency-Key for this new job, or returns the job of an earlier identical request.
 * A claim whose job was never written is either still being written by a request in flight
 * (then 409: retry shortly) or dead, left by a request that failed and could not give the key
 * back (then this request takes the key over and runs as the new job).
 */
async function claimOrRepeat(
  ref: TaskRef,
  key: string,
  fingerprint: string,
  log: Logger,
): Promise<string | undefined> {
  const { tenant_id: tenantId, job_id: jobId } = ref;
  const claim = await idempotencyStore.claim(tenantId, key, fingerprint, jobId);
  if (claim.claimed) return undefined;
  if (await taskRepository.get(tenantId, claim.jobId)) {
    log.info('Idempotent repeat', { job_id: claim.jobId });
    return claim.jobId;
  }
  const age = nowEpochSeconds() - (claim.claimedAt ?? 0);
  const timeout = getConfig().IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS;
  if (age < timeout) {
    // The first request normally records its task within a second or two; past the timeout the
    // claim is taken over. Retry-After is the sooner of the two.
    throw new ConflictError(
      'A request with this Idempotency-Key is still being processed; retry in a few seconds',
      Math.max(1, Math.min(2, Math.ceil(timeout - age))),
    );
  }
  if (await idempotencyStore.takeOver(tenantId, key, claim.jobId, jobId)) {
    log.warn('Idempotency-Key taken over from a job that was never recorded', { dead_job_id: claim.jobId });
    return undefined;
  }
  // Another request took it over first: that one is the job for this key.
  return claimOrRepeat(ref, key, fingerprint, log);
}

async function releaseClaim(tenantId: string, key: string, jobId: string, log: Logger): Promise<void> {
  await idempotencyStore.release(tenantId, key, jobId).catch((error: unknown) => {
    // The claim then names a job that does not exist; the next repeat takes it over.
    log.error('Could not release the Idempotency-Key', describeError(error));
  });
}

import type { Tenant } from '../auth/api-keys.ts';
import { ServiceUnavailableError } from '../errors.ts';
import { startTaskExecution } from '../executions/execution-starter.ts';
import { describeError, type Logger } from '../logger.ts';
import { validateGeneration } from '../operations/validate-request.ts';
import { rowsForTask, tableFor, upsertRowsBestEffort } from '../storage/result-rows.ts';
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
 * The submit path (DESIGN "a task's life", step 1): validate, claim the idempotency key, write
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
  const jobId = newJobId(clientTaskId);
  const idempotencyKey =
    input.idempotencyKey === undefined ? undefined : validateIdempotencyKey(input.idempotencyKey);

  if (idempotencyKey) {
    const claim = await idempotencyStore.claim(
      tenant.tenant_id,
      idempotencyKey,
      requestFingerprint(operation, body),
      jobId,
    );
    if (!claim.claimed) {
      log.info('Idempotent repeat', { job_id: claim.jobId });
      return { statusCode: 200, body: acceptedBody(claim.jobId, clientTaskId) };
    }
  }

  const ref: TaskRef = {
    tenant_id: tenant.tenant_id,
    job_id: jobId,
    client_task_id: clientTaskId,
    operation,
    provider: entry.provider,
    params,
  };
  const created = await taskRepository.create(ref);
  if (!created) throw new Error(`Job id collision for ${jobId}`);

  const now = new Date().toISOString();
  const pending: Task = { ...ref, status: 'pending', created_at: now, updated_at: now };
  await upsertRowsBestEffort(tableFor(entry.resultKind), rowsForTask(pending, []));

  try {
    await startTaskExecution(ref);
  } catch (error) {
    log.error('Could not start the workflow', { job_id: jobId, ...describeError(error) });
    await taskRepository.markFailed(
      tenant.tenant_id,
      jobId,
      'The task could not be started; retrying may help',
      'internal',
    );
    if (idempotencyKey)
      await idempotencyStore.release(tenant.tenant_id, idempotencyKey).catch(() => undefined);
    throw new ServiceUnavailableError('The task could not be started; please retry shortly');
  }
  log.info('Task accepted', { job_id: jobId, operation, provider: entry.provider });
  return { statusCode: 202, body: acceptedBody(jobId, clientTaskId) };
}

import { NotFoundError, ValidationError } from '../errors.ts';
import { assetUrl } from '../storage/asset-urls.ts';
import { JOB_ID_PATTERN } from './job-id.ts';
import type { Task } from './task.ts';
import { taskRepository } from './task-repository.ts';

/** `?service=` is accepted for older clients and changes nothing (docs/api.md, Task status). */
const SERVICES = ['openai', 'tripoai'];

export interface TaskStatusBody {
  task_id: string;
  status: Task['status'];
  asset_url: string | null;
  asset_urls?: string[];
  image_url?: string;
  error: string | null;
  error_code?: string;
  progress: number | null;
  client_task_id: string;
  operation: string;
  provider: string;
  ai_service_task_id: string | null;
  created_at: string;
  updated_at: string;
}

/** One DynamoDB read keyed by tenant and job id; no provider call, no upload. */
export async function readTaskStatus(tenantId: string, jobId: string, service: string | undefined) {
  if (service !== undefined && !SERVICES.includes(service)) {
    throw new ValidationError(`service must be one of: ${SERVICES.join(', ')}`, [
      { field: 'service', message: `must be one of: ${SERVICES.join(', ')}` },
    ]);
  }
  const task = JOB_ID_PATTERN.test(jobId) ? await taskRepository.get(tenantId, jobId) : undefined;
  if (!task) throw new NotFoundError('Task not found');
  return statusBody(task);
}

async function statusBody(task: Task): Promise<TaskStatusBody> {
  const urls =
    task.status === 'complete' ? await Promise.all((task.assets ?? []).map((a) => assetUrl(a.path))) : [];
  const body: TaskStatusBody = {
    task_id: task.job_id,
    status: task.status,
    asset_url: urls[0] ?? null,
    error: task.status === 'failed' ? (task.error ?? 'The task failed') : null,
    progress: task.progress ?? null,
    client_task_id: task.client_task_id,
    operation: task.operation,
    provider: task.provider,
    ai_service_task_id: task.ai_service_task_id ?? null,
    created_at: task.created_at,
    updated_at: task.updated_at,
  };
  if (urls.length > 1) body.asset_urls = urls;
  if (task.operation === 'downscale' && urls[0]) body.image_url = urls[0];
  if (task.status === 'failed') body.error_code = task.error_code ?? 'internal';
  return body;
}

import * as z from 'zod';

export const TASK_STATUSES = ['pending', 'processing', 'complete', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A stored result: where it lives in the bucket and what it is. */
export const StoredAssetSchema = z.object({
  path: z.string().min(1),
  content_type: z.string().min(1),
  bytes: z.number().int().nonnegative(),
});
export type StoredAsset = z.infer<typeof StoredAssetSchema>;

/** The task record in DynamoDB: the source of truth for a job's status. */
export const TaskSchema = z.object({
  tenant_id: z.string(),
  job_id: z.string(),
  client_task_id: z.string(),
  operation: z.string(),
  provider: z.string(),
  status: z.enum(TASK_STATUSES),
  params: z.record(z.string(), z.unknown()),
  assets: z.array(StoredAssetSchema).optional(),
  result_metadata: z.record(z.string(), z.unknown()).optional(),
  error: z.string().optional(),
  error_code: z.string().optional(),
  progress: z.number().optional(),
  ai_service_task_id: z.string().optional(),
  /** What polling the provider's job needs (e.g. BFL's polling URL), kept so a rerun resumes it. */
  provider_state: z.record(z.string(), z.unknown()).optional(),
  /** When a paid create went out and its answer is not yet recorded (workflow/async-jobs.ts `submitProviderJob`). */
  provider_create_started_at: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  expires_at: z.number().optional(),
});
export type Task = z.infer<typeof TaskSchema>;

/** What every workflow step receives about its task (the execution input, contract of the ASL). */
export const TaskRefSchema = z.object({
  tenant_id: z.string().min(1),
  job_id: z.string().min(1),
  client_task_id: z.string().min(1),
  operation: z.string().min(1),
  provider: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
});
export type TaskRef = z.infer<typeof TaskRefSchema>;

import * as z from 'zod/mini';

// zod's functional build (`zod/mini`, the same core as `zod`): the status path parses tasks with
// these schemas and never loads zod's method-chaining API (95 KiB and ≈ 14 ms to load, against
// 18 KiB and ≈ 3 ms: README, Benchmarks). Schemas of both builds nest in each other.

export const TASK_STATUSES = ['pending', 'processing', 'complete', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A stored result: where it lives in the bucket and what it is. */
export const StoredAssetSchema = z.object({
  path: z.string().check(z.minLength(1)),
  content_type: z.string().check(z.minLength(1)),
  bytes: z.int().check(z.nonnegative()),
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
  assets: z.optional(z.array(StoredAssetSchema)),
  result_metadata: z.optional(z.record(z.string(), z.unknown())),
  error: z.optional(z.string()),
  error_code: z.optional(z.string()),
  progress: z.optional(z.number()),
  ai_service_task_id: z.optional(z.string()),
  /** What polling the provider's job needs (e.g. BFL's polling URL), kept so a rerun resumes it. */
  provider_state: z.optional(z.record(z.string(), z.unknown())),
  /** When a paid create went out and its answer is not yet recorded (workflow/async-jobs.ts `submitProviderJob`). */
  provider_create_started_at: z.optional(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.optional(z.string()),
  finished_at: z.optional(z.string()),
  expires_at: z.optional(z.number()),
});
export type Task = z.infer<typeof TaskSchema>;

/** What every workflow step receives about its task (the execution input, contract of the ASL). */
export const TaskRefSchema = z.object({
  tenant_id: z.string().check(z.minLength(1)),
  job_id: z.string().check(z.minLength(1)),
  client_task_id: z.string().check(z.minLength(1)),
  operation: z.string().check(z.minLength(1)),
  provider: z.string().check(z.minLength(1)),
  params: z.record(z.string(), z.unknown()),
});
export type TaskRef = z.infer<typeof TaskRefSchema>;

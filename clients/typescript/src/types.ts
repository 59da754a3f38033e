import type { OperationName, SubmitAnswer, TaskStatus } from './generated/operations.ts';

/**
 * The API's bodies are generated from its OpenAPI document (src/generated/operations.ts):
 * SubmitAnswer, TaskStatus, RegisterRequest, RegisterAnswer, HealthAnswer, FieldIssue, ErrorBody.
 * What the client adds to them is here.
 */
export type {
  ErrorBody,
  FieldIssue,
  HealthAnswer,
  RegisterAnswer,
  RegisterRequest,
  SubmitAnswer,
  TaskStatus,
} from './generated/operations.ts';

/** `error_code` of a failed task (docs/api.md, Task status). */
export type TaskErrorCode = NonNullable<TaskStatus['error_code']>;

export type TaskState = TaskStatus['status'];

/** What a submit method resolves with: the answer plus what waitForResult needs to poll well. */
export interface SubmittedTask extends SubmitAnswer {
  /** Same as `celery_task_id`. */
  jobId: string;
  operation: OperationName;
  /** The provider the request named (or the operation's default). */
  provider: string | undefined;
  /** The Idempotency-Key sent (reuse it to submit the same request again safely). */
  idempotencyKey: string | undefined;
  /** True when the API answered 200: an earlier request with this key already made this job. */
  replayed: boolean;
}

/** What waitForResult resolves with: the complete status and its result URLs in order. */
export interface TaskResult {
  jobId: string;
  /** Every result's URL, in order (one for most operations). */
  assetUrls: string[];
  status: TaskStatus;
}

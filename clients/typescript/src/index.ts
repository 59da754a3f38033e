export {
  type ClientOptions,
  DEFAULT_BASE_URL,
  MakeIt3DClient,
  type ProgressUpdate,
  type RequestOptions,
  type RunOptions,
  randomUuid,
  type SubmitOptions,
  type WaitOptions,
} from './client.ts';
export {
  MakeIt3DApiError,
  MakeIt3DAuthenticationError,
  MakeIt3DConflictError,
  MakeIt3DError,
  MakeIt3DNetworkError,
  MakeIt3DNotFoundError,
  MakeIt3DRateLimitError,
  MakeIt3DServerError,
  MakeIt3DTaskFailedError,
  MakeIt3DTimeoutError,
  MakeIt3DUnavailableError,
  MakeIt3DValidationError,
} from './errors.ts';
export * from './generated/operations.ts';
export { defaultPollDelayMs, defaultTimeoutMs } from './polling.ts';
export { DEFAULT_BUCKET, type StorageOptions, uploadToStorage } from './storage.ts';
export type { SubmittedTask, TaskErrorCode, TaskResult, TaskState } from './types.ts';

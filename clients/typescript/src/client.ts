import {
  apiError,
  type MakeIt3DApiError,
  MakeIt3DError,
  MakeIt3DNetworkError,
  MakeIt3DRateLimitError,
  MakeIt3DTaskFailedError,
  MakeIt3DTimeoutError,
  MakeIt3DUnavailableError,
} from './errors.ts';
import { OPERATIONS, type OperationName, type OperationRequests } from './generated/operations.ts';
import { defaultPollDelayMs, defaultTimeoutMs, sleep } from './polling.ts';
import type {
  HealthAnswer,
  RegisterAnswer,
  RegisterRequest,
  SubmitAnswer,
  SubmittedTask,
  TaskResult,
  TaskStatus,
} from './types.ts';

/** The local stack's address (`npm start`; docs/api.md, Conventions). */
export const DEFAULT_BASE_URL = 'http://localhost:8000';

export interface ClientOptions {
  /** `X-API-Key` for generation and status requests (not needed for register and health). */
  apiKey?: string;
  /** The API's base URL without a trailing slash. Default: the local stack, http://localhost:8000. */
  baseUrl?: string;
  /** A fetch implementation (default: the global one; Node ≥ 18, browsers, React Native). */
  fetch?: typeof fetch;
  /**
   * How many times a request answered 429 or 503, or not answered at all, is sent again:
   * status reads and health always, submits only with an Idempotency-Key (the same one). Default 3.
   */
  maxRetries?: number;
  /** The longest single wait between two attempts, in ms (Retry-After is capped to it). Default 30 s. */
  maxRetryDelayMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends RequestOptions {
  /**
   * The Idempotency-Key header (docs/api.md, Idempotency-Key). Default: a fresh random UUID per
   * call, reused by this call's retries. `false` sends none, and then a submit is never retried.
   */
  idempotencyKey?: string | false;
}

/** What onProgress is told after each status read. */
export interface ProgressUpdate {
  status: TaskStatus['status'];
  /** 0–100 when the provider reports progress (Flux, Tripo), else null. */
  progress: number | null;
  task: TaskStatus;
}

export interface WaitOptions extends RequestOptions {
  /** Give up after this many ms (MakeIt3DTimeoutError). Default: 15 minutes, 35 for 3D operations. */
  timeoutMs?: number;
  /** Called after every status read. */
  onProgress?: (update: ProgressUpdate) => void;
  /**
   * The wait before each status read, in ms, or a function of the read's number (from 0) and the
   * task. Default: the guide's provider-aware schedule (polling.ts). A 429 or 503 waits its
   * Retry-After instead.
   */
  pollIntervalMs?: number | ((attempt: number, task: { provider?: string; operation?: string }) => number);
}

export type RunOptions = SubmitOptions & WaitOptions;

interface Answer<T> {
  status: number;
  body: T;
}

/**
 * A typed client of the MakeIt3D API: one method per operation (the request type narrowed by
 * `provider`), status reads, a provider-aware wait for the result, registration and health.
 * No dependency beyond `fetch`.
 */
export class MakeIt3DClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #maxRetries: number;
  readonly #maxRetryDelayMs: number;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('No fetch implementation: pass options.fetch');
    this.#fetch = fetchImpl.bind(globalThis);
    this.#maxRetries = options.maxRetries ?? 3;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  // ---- One method per operation (docs/api.md, Operations and providers) ----

  textToImage(request: OperationRequests['text-to-image'], options?: SubmitOptions) {
    return this.submit('text-to-image', request, options);
  }
  imageToImage(request: OperationRequests['image-to-image'], options?: SubmitOptions) {
    return this.submit('image-to-image', request, options);
  }
  sketchToImage(request: OperationRequests['sketch-to-image'], options?: SubmitOptions) {
    return this.submit('sketch-to-image', request, options);
  }
  imageInpaint(request: OperationRequests['image-inpaint'], options?: SubmitOptions) {
    return this.submit('image-inpaint', request, options);
  }
  removeBackground(request: OperationRequests['remove-background'], options?: SubmitOptions) {
    return this.submit('remove-background', request, options);
  }
  searchAndRecolor(request: OperationRequests['search-and-recolor'], options?: SubmitOptions) {
    return this.submit('search-and-recolor', request, options);
  }
  upscale(request: OperationRequests['upscale'], options?: SubmitOptions) {
    return this.submit('upscale', request, options);
  }
  downscale(request: OperationRequests['downscale'], options?: SubmitOptions) {
    return this.submit('downscale', request, options);
  }
  textToModel(request: OperationRequests['text-to-model'], options?: SubmitOptions) {
    return this.submit('text-to-model', request, options);
  }
  imageToModel(request: OperationRequests['image-to-model'], options?: SubmitOptions) {
    return this.submit('image-to-model', request, options);
  }
  refineModel(request: OperationRequests['refine-model'], options?: SubmitOptions) {
    return this.submit('refine-model', request, options);
  }

  /** `POST /generation/{operation}`: validates nothing locally; the API's 400 names each field. */
  async submit<O extends OperationName>(
    operation: O,
    request: OperationRequests[O],
    options: SubmitOptions = {},
  ): Promise<SubmittedTask> {
    const idempotencyKey =
      options.idempotencyKey === false ? undefined : (options.idempotencyKey ?? randomUuid());
    const headers: Record<string, string> = { 'content-type': 'application/json', ...this.#keyHeader() };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const answer = await this.#request<SubmitAnswer>('POST', `/generation/${operation}`, {
      headers,
      body: JSON.stringify(request),
      // Sent again only with the same key: a repeat is then answered with the first job.
      retry: idempotencyKey !== undefined,
      signal: options.signal,
    });
    const spec = OPERATIONS[operation];
    const named = (request as { provider?: unknown }).provider;
    const provider = spec?.providerless ?? (typeof named === 'string' ? named : spec?.defaultProvider);
    return {
      ...answer.body,
      jobId: answer.body.celery_task_id,
      operation,
      provider,
      idempotencyKey,
      replayed: answer.status === 200,
    };
  }

  /** `GET /tasks/{jobId}/status` (retried on 429, 503 and network errors). */
  async getStatus(jobId: string, options: RequestOptions = {}): Promise<TaskStatus> {
    const answer = await this.#request<TaskStatus>('GET', `/tasks/${encodeURIComponent(jobId)}/status`, {
      headers: this.#keyHeader(),
      retry: true,
      signal: options.signal,
    });
    return answer.body;
  }

  /**
   * Polls the task until it is `complete` (resolves with its result URLs) or `failed` (rejects
   * with MakeIt3DTaskFailedError carrying `error` and `error_code`). A 429 or 503 waits its
   * Retry-After, a lost connection the next interval; the timeout and the signal end the wait
   * (not the task).
   */
  async waitForResult(job: string | SubmittedTask, options: WaitOptions = {}): Promise<TaskResult> {
    const jobId = typeof job === 'string' ? job : job.jobId;
    const task: { provider?: string; operation?: string } = {};
    if (typeof job !== 'string') {
      if (job.provider !== undefined) task.provider = job.provider;
      task.operation = job.operation;
    }
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs(task);
    const deadline = Date.now() + timeoutMs;
    const timedOut = new MakeIt3DTimeoutError(jobId, timeoutMs, undefined);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let last: TaskStatus | undefined;
    let unanswered = 0;
    try {
      for (let attempt = 0; ; attempt++) {
        let wait: number | undefined;
        try {
          last = (
            await this.#request<TaskStatus>('GET', `/tasks/${encodeURIComponent(jobId)}/status`, {
              headers: this.#keyHeader(),
              retry: false,
              signal: controller.signal,
            })
          ).body;
          unanswered = 0;
          task.provider = last.provider;
          task.operation = last.operation;
          options.onProgress?.({ status: last.status, progress: last.progress, task: last });
          if (last.status === 'complete') {
            const assetUrls = last.asset_urls ?? (last.asset_url ? [last.asset_url] : []);
            return { jobId, assetUrls, status: last };
          }
          if (last.status === 'failed') throw new MakeIt3DTaskFailedError(last);
        } catch (error) {
          if (controller.signal.aborted) throw controller.signal.reason;
          if (error instanceof MakeIt3DRateLimitError || error instanceof MakeIt3DUnavailableError) {
            wait = error.retryAfterSeconds === undefined ? undefined : error.retryAfterSeconds * 1000;
          } else if (!(error instanceof MakeIt3DNetworkError) || ++unanswered > this.#maxRetries) {
            // A lost connection is tried again at the next interval, but not forever.
            throw error;
          }
        }
        wait ??= pollDelay(options.pollIntervalMs, attempt, task);
        await sleep(
          Math.max(0, Math.min(wait, this.#maxRetryDelayMs, deadline - Date.now())),
          controller.signal,
        );
      }
    } catch (error) {
      if (error === timedOut) throw new MakeIt3DTimeoutError(jobId, timeoutMs, last);
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Submits, then waits for the result: `submit` and `waitForResult` in one call. */
  async run<O extends OperationName>(
    operation: O,
    request: OperationRequests[O],
    options: RunOptions = {},
  ): Promise<TaskResult & { submitted: SubmittedTask }> {
    const submitted = await this.submit(operation, request, options);
    const result = await this.waitForResult(submitted, options);
    return { ...result, submitted };
  }

  /** Downloads a result (an `asset_url`), retried on 429, 503 and network errors. */
  async download(
    url: string,
    options: RequestOptions = {},
  ): Promise<{ bytes: Uint8Array; contentType: string }> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(url, options.signal ? { signal: options.signal } : {});
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (attempt >= this.#maxRetries) throw networkError(url, error);
        await sleep(this.#backoff(attempt), options.signal);
        continue;
      }
      if (response.ok) {
        return {
          bytes: new Uint8Array(await response.arrayBuffer()),
          contentType: response.headers.get('content-type') ?? 'application/octet-stream',
        };
      }
      const error = apiError(response.status, await readBody(response), response.headers);
      if ((response.status === 429 || response.status >= 500) && attempt < this.#maxRetries) {
        await sleep(this.#retryDelay(error, attempt), options.signal);
        continue;
      }
      throw error;
    }
  }

  /** `POST /auth/register`: issues an API key (docs/api.md, Authentication and tenants). */
  async register(request: RegisterRequest, options: RequestOptions = {}): Promise<RegisterAnswer> {
    const answer = await this.#request<RegisterAnswer>('POST', '/auth/register', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      // Registration issues a new key each time: never sent twice.
      retry: false,
      signal: options.signal,
    });
    return answer.body;
  }

  /** `GET /health`. */
  async health(options: RequestOptions = {}): Promise<HealthAnswer> {
    return (await this.#request<HealthAnswer>('GET', '/health', { retry: true, signal: options.signal }))
      .body;
  }

  #keyHeader(): Record<string, string> {
    return this.#apiKey === undefined ? {} : { 'x-api-key': this.#apiKey };
  }

  #backoff(attempt: number): number {
    return Math.min(1000 * 2 ** attempt, this.#maxRetryDelayMs);
  }

  #retryDelay(error: MakeIt3DApiError, attempt: number): number {
    return error.retryAfterSeconds === undefined
      ? this.#backoff(attempt)
      : Math.min(error.retryAfterSeconds * 1000, this.#maxRetryDelayMs);
  }

  async #request<T>(
    method: string,
    path: string,
    init: {
      headers?: Record<string, string>;
      body?: string;
      retry: boolean;
      signal: AbortSignal | undefined;
    },
  ): Promise<Answer<T>> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      const canRetry = init.retry && attempt < this.#maxRetries;
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method,
          headers: { accept: 'application/json', ...init.headers },
          ...(init.body === undefined ? {} : { body: init.body }),
          ...(init.signal ? { signal: init.signal } : {}),
        });
      } catch (error) {
        if (init.signal?.aborted) throw init.signal.reason;
        if (!canRetry) throw networkError(url, error);
        await sleep(this.#backoff(attempt), init.signal);
        continue;
      }
      const body = await readBody(response);
      if (response.ok) return { status: response.status, body: body as T };
      const error = apiError(response.status, body, response.headers);
      const retryable =
        response.status === 429 ||
        response.status === 503 ||
        // The first request with this Idempotency-Key is still being recorded (docs/api.md, Idempotency-Key).
        (response.status === 409 && /still being processed/.test(error.detail));
      if (!retryable || !canRetry) throw error;
      await sleep(this.#retryDelay(error, attempt), init.signal);
    }
  }
}

function pollDelay(
  interval: WaitOptions['pollIntervalMs'],
  attempt: number,
  task: { provider?: string; operation?: string },
): number {
  if (typeof interval === 'number') return interval;
  if (typeof interval === 'function') return interval(attempt, task);
  return defaultPollDelayMs(attempt, task);
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function networkError(url: string, error: unknown): MakeIt3DError {
  if (error instanceof MakeIt3DError) return error;
  const reason =
    error instanceof Error
      ? error.cause instanceof Error
        ? error.cause.message
        : error.message
      : String(error);
  return new MakeIt3DNetworkError(`Could not reach ${new URL(url).origin}: ${reason}`, { cause: error });
}

/** A random UUID v4: crypto.randomUUID where there is one (Node ≥ 19, browsers), else getRandomValues. */
export function randomUuid(): string {
  const crypto = globalThis.crypto as Crypto | undefined;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

import type { DecodedInput } from '../image-input.ts';
import type { ResultFault } from '../result-faults.ts';
import { resetTripoWebhooks } from './webhooks.ts';

/**
 * The Tripo v3 simulator's state: settings tests can change, the tasks, uploads, issued result
 * links and accounts of every API key, and the log of calls (see `tripoCalls`). Everything lives
 * in memory and is forgotten by `resetTripoSandbox`.
 */

const DEFAULTS = {
  queuedPolls: 2,
  runningPolls: 3,
  initialBalance: 10_000,
  extraFields: 'reject' as 'reject' | 'accept',
  renderSize: 256,
  retryAfterSeconds: 10,
  clockTimeline: undefined as ClockTimeline | undefined,
};

/** A task timeline in time rather than polls: queued for `queuedMs`, then running for `runningMs`. */
export interface ClockTimeline {
  queuedMs: number;
  runningMs: number;
}

/** Knobs for tests; the local stack keeps the defaults. */
export const tripoSandboxSettings: {
  /** Polls answering `queued` before a task starts running. */
  queuedPolls: number;
  /** Polls answering `running` (the last one at progress 99 with an empty output). */
  runningPolls: number;
  /** Credits each key starts with. */
  initialBalance: number;
  /** Undocumented body fields: `reject` (400/1004) or `accept` (ignored). */
  extraFields: 'reject' | 'accept';
  /** Side of the square `rendered_image_url` preview. */
  renderSize: number;
  /** `Retry-After` (seconds) on 429 answers. */
  retryAfterSeconds: number;
  /** The clock behind timestamps, URL and token expiry and the concurrency window (tests move it). */
  now: () => number;
  /**
   * When set, tasks created afterwards follow `now` instead of their polls: queued, then running
   * with progress rising with the time since creation, then the outcome (`setTripoClockTimeline`).
   */
  clockTimeline: ClockTimeline | undefined;
} = { ...DEFAULTS, now: () => Date.now() };

export function setTripoTimeline(queuedPolls: number, runningPolls: number): void {
  tripoSandboxSettings.queuedPolls = Math.max(0, Math.floor(queuedPolls));
  tripoSandboxSettings.runningPolls = Math.max(0, Math.floor(runningPolls));
  tripoSandboxSettings.clockTimeline = undefined;
}

/**
 * Tasks created afterwards run on `tripoSandboxSettings.now` (a test can move it): queued for
 * `queuedSeconds`, then running for `runningSeconds` with progress rising with time, then the
 * outcome. `setTripoTimeline` (or a reset) goes back to timelines driven by polls.
 */
export function setTripoClockTimeline(queuedSeconds: number, runningSeconds: number): void {
  tripoSandboxSettings.clockTimeline = {
    queuedMs: Math.max(0, queuedSeconds * 1000),
    runningMs: Math.max(0, runningSeconds * 1000),
  };
}

/** The base path of the API: the adapter's base URL is `<mount>/v3`. */
export const API = '/v3';
/** Where result files are served (no key needed), standing in for Tripo's download host. */
export const FILES_PREFIX = `${API}/__files/`;
/** Download links stop working five minutes after they were issued (see the header of tripo.ts). */
export const URL_TTL_MS = 5 * 60 * 1000;
/** Expired links answer 403 for a day before they are forgotten (and answer 404). */
export const ISSUED_MEMORY_MS = 24 * 60 * 60 * 1000;
/** File-token lifetime is undocumented for v3; v2 upload tokens lasted about 24 hours. */
export const UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;
export const TASK_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** A task stops counting against concurrency once seen finished, or this long after creation. */
export const ACTIVE_WINDOW_MS = 30 * 60 * 1000;

export type TaskType = 'text_to_model' | 'image_to_model' | 'multiview_to_model' | 'texture_model';
/** Concurrency categories: H-series generation, P-series generation, model processing. */
export type Bucket = 'h_series' | 'p_series' | 'model_processing';
export const BUCKET_LIMITS: Record<Bucket, number> = { h_series: 10, p_series: 5, model_processing: 5 };

export type FileName = 'model' | 'rendered_image';
export type FileExt = 'glb' | 'fbx' | 'png';

/** How a task ends; chosen at creation (default success, or a fault's `outcome`). */
export interface Outcome {
  /** The status polls report once the task has ended. */
  status: string;
  /**
   * When it is reported: right after the queued polls, halfway through the running polls, after
   * all of them, or never (the task stays `queued` or `running`).
   */
  when: 'after-queue' | 'mid-run' | 'after-run' | 'never';
  /** A documented terminal status: `completed_at` is set. */
  terminal: boolean;
  errorCode?: number;
  errorMessage?: string;
}

export interface StoredFile {
  bytes: Buffer;
  ext: FileExt;
  contentType: string;
}

/** What the result files are made from. */
export interface RenderPlan {
  /** Seeds the mesh shape (a re-texture keeps its source's). */
  meshKey: string;
  /** Seeds the texture and the preview. */
  drawKey: string;
  tint: [number, number, number];
  textured: boolean;
  pbr: boolean;
  format: 'glb' | 'fbx';
  /** The (front) input picture, painted into the texture and the preview; dropped when the task ends. */
  picture?: DecodedInput | undefined;
  /** An imported GLB that a re-texture task re-tints instead of drawing a new mesh. */
  baseGlb?: Buffer | undefined;
}

export interface Task {
  id: string;
  key: string;
  type: TaskType;
  model: string;
  bucket: Bucket;
  createdAt: number;
  completedAt?: number;
  queuedPolls: number;
  runningPolls: number;
  polls: number;
  /** Set when the task follows the clock instead of its polls. */
  clock?: ClockTimeline | undefined;
  outcome: Outcome;
  /** The documented fields of the request, as sent. */
  input: Record<string, unknown>;
  cost: number;
  render: RenderPlan;
  lastProgress: number;
  /** The status the last poll reported (for `/account/usage`). */
  lastStatus: string;
  /** Set once a poll has seen the task end (credits are settled then). */
  finished: boolean;
  /** Settling and drawing the result files; concurrent polls of a just-ended task await it. */
  finishing?: Promise<void>;
  files?: Map<FileName, StoredFile>;
  /** A scripted fault on downloads of the task's files (`outcome: "result:…"`), used up by them. */
  resultFault?: ResultFault | undefined;
}

/** A validated create request, before concurrency, credits and faults are applied. */
export interface TaskDraft {
  type: TaskType;
  model: string;
  bucket: Bucket;
  cost: number;
  input: Record<string, unknown>;
  render: RenderPlan;
}

export type UploadKind = 'image' | 'model';

export interface Upload {
  key: string;
  bytes: Buffer;
  kind: UploadKind;
  format: string;
  createdAt: number;
}

export interface IssuedFile {
  taskId: string;
  name: FileName;
  expiresAt: number;
}

export interface Account {
  balance: number;
  frozen: number;
}

/** One call the simulator answered, for `tripoCalls()`. */
export interface TripoCall {
  method: string;
  /** The path below the mount, e.g. `/v3/tasks/0196…`. */
  path: string;
  /** The route it matched, e.g. `GET /v3/tasks/{task_id}`, or method and path when none matched. */
  endpoint: string;
  /** The HTTP status answered (0 when the client went away first). */
  status: number;
}

export type QueuedEffect =
  | { kind: 'outcome'; outcome: Outcome }
  | { kind: 'moderated' }
  /** `outcome: "result:…"`: the task succeeds and downloads of its files answer with this fault. */
  | { kind: 'result'; fault: ResultFault };

export const tasks = new Map<string, Task>();
export const uploads = new Map<string, Upload>();
export const issuedFiles = new Map<string, IssuedFile>();
export const accounts = new Map<string, Account>();
/** Effects scripted by faults, each consumed by one later create. */
export const queuedEffects: QueuedEffect[] = [];
export const callLog: TripoCall[] = [];
const CALL_LOG_LIMIT = 1000;

export function logCall(call: TripoCall): void {
  callLog.push(call);
  if (callLog.length > CALL_LOG_LIMIT) callLog.shift();
}

/** Every call answered since the last reset, oldest first. */
export function tripoCalls(): readonly TripoCall[] {
  return [...callLog];
}

/** Forgets every task, upload, issued URL, account, queued outcome and logged call, and restores the defaults. */
export function resetTripoSandbox(): void {
  resetTripoWebhooks();
  tasks.clear();
  uploads.clear();
  issuedFiles.clear();
  accounts.clear();
  queuedEffects.length = 0;
  callLog.length = 0;
  Object.assign(tripoSandboxSettings, DEFAULTS, { now: () => Date.now() });
}

export function account(key: string): Account {
  let found = accounts.get(key);
  if (!found) {
    found = { balance: tripoSandboxSettings.initialBalance, frozen: 0 };
    accounts.set(key, found);
  }
  return found;
}

/** Credits are decimals on the wire; keep them to cents so sums do not drift. */
export const credits = (value: number): number => Math.round(value * 100) / 100;

export function pruneState(now: number): void {
  for (const [id, task] of tasks) {
    if (now - task.createdAt > TASK_LIFETIME_MS) tasks.delete(id);
  }
  for (const [id, upload] of uploads) {
    if (now - upload.createdAt > UPLOAD_TTL_MS) uploads.delete(id);
  }
  for (const [id, issued] of issuedFiles) {
    if (now - issued.expiresAt > ISSUED_MEMORY_MS) issuedFiles.delete(id);
  }
}

export function activeCount(key: string, bucket: Bucket, now: number): number {
  let count = 0;
  for (const task of tasks.values()) {
    if (
      task.key === key &&
      task.bucket === bucket &&
      !task.finished &&
      now - task.createdAt < ACTIVE_WINDOW_MS
    ) {
      count += 1;
    }
  }
  return count;
}

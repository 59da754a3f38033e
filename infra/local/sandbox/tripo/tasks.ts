import { digest, encodePicture, newId, paint } from '../image-input.ts';
import type { SandboxContext } from '../sandbox.ts';
import { invalid, TripoFailure } from './errors.ts';
import { documentedFields, type Fields } from './fields.ts';
import { pyramidFbx, pyramidGlb, retintGlb } from './meshes.ts';
import {
  account,
  activeCount,
  BUCKET_LIMITS,
  credits,
  FILES_PREFIX,
  type FileName,
  issuedFiles,
  pruneState,
  queuedEffects,
  type StoredFile,
  type Task,
  type TaskDraft,
  tasks,
  tripoSandboxSettings,
  URL_TTL_MS,
} from './state.ts';
import { watchTask, webhookClock } from './webhooks.ts';

/**
 * Task creation, progression and queries. Sources, checked 2026-12-02:
 * - task detail `{task_id, type, status, progress, input, output: {model_url, rendered_image_url},
 *   credits_consumed, created_at, completed_at, error_code, error_message}` and `/tasks/list` →
 *   `{tasks: {<id>: task}, missed: [ids]}`: tryAGI/Tripo openapi.yaml (kept from
 *   developers.tripo3d.ai/en/docs) and Tripo's migration skill "tripo-v2-to-v3-migration" §5
 *   (the official SDKs' typings model `tasks` as an array; the map is what the docs describe);
 * - statuses `queued`, `running`, `success`, `failed`, `cancelled`; v2's `banned` / `expired`
 *   became `failed` with error_code 2008 / 2018 (migration skill §5.1), while Tripo's JS SDK
 *   (github.com/VAST-AI-Research/tripo-js-sdk src/constants.js) still knows `banned`, `expired`
 *   and `unknown` — the simulator reports those only when a fault asks for them;
 * - progress 0 while queued, 100 only at success (v2 docs, github.com/funmagic-ai/magi-3d-sdk
 *   tripo/task.md);
 * - credits frozen at creation, charged on success, released otherwise (Tripo's skill
 *   github.com/VAST-AI-Research/Tripo3D-Plugin-dsh plugin/skills/tripo-3d/SKILL.md);
 * - concurrency per account and category: H series 10, P series 5, model processing 5, over it
 *   429/2000 with Retry-After (same skill);
 * - download links expire about five minutes after they are issued; re-query for fresh ones
 *   (JS SDK README.md, the skill, the v2 docs; the migration skill's 24 h is not followed).
 */

/** Validated draft → stored task (or 429/2000, 403/2010, 400/2008 from a `moderated` fault). */
export function createTask(draft: TaskDraft, key: string): Record<string, unknown> {
  const now = tripoSandboxSettings.now();
  pruneState(now);
  if (activeCount(key, draft.bucket, now) >= BUCKET_LIMITS[draft.bucket]) {
    throw new TripoFailure(
      2000,
      `This API key already has ${BUCKET_LIMITS[draft.bucket]} ${draft.bucket.replace('_', ' ')} tasks queued or running.`,
    );
  }
  const wallet = account(key);
  if (wallet.balance < draft.cost) {
    throw new TripoFailure(
      2010,
      `You need ${draft.cost} credits; the balance is ${credits(wallet.balance)}.`,
    );
  }
  const effect = queuedEffects.shift();
  if (effect?.kind === 'moderated') throw new TripoFailure(2008);
  const resultFault = effect?.kind === 'result' ? effect.fault : undefined;

  wallet.balance = credits(wallet.balance - draft.cost);
  wallet.frozen = credits(wallet.frozen + draft.cost);
  const id = newId('uuid');
  tasks.set(id, {
    id,
    key,
    type: draft.type,
    model: draft.model,
    bucket: draft.bucket,
    createdAt: now,
    queuedPolls: tripoSandboxSettings.queuedPolls,
    runningPolls: tripoSandboxSettings.runningPolls,
    polls: 0,
    // With webhooks on, a task must end without polls: it follows a clock.
    clock: tripoSandboxSettings.clockTimeline ?? webhookClock(),
    outcome:
      effect?.kind === 'outcome' ? effect.outcome : { status: 'success', when: 'after-run', terminal: true },
    input: draft.input,
    cost: draft.cost,
    render: draft.render,
    lastProgress: 0,
    lastStatus: 'queued',
    finished: false,
    resultFault,
  });
  const created = tasks.get(id);
  if (created) watchTask(created);
  return { task_id: id, type: draft.type, status: 'queued' };
}

/**
 * Where the task is on its timeline: the polls so far (each poll is one step, the first poll
 * step 1), or on a clock timeline the milliseconds since creation; with the lengths of its
 * queued and running phases in the same unit.
 */
interface Timeline {
  at: number;
  queued: number;
  running: number;
  /** Clock timelines end a phase when its time is up; poll timelines after its last poll. */
  clock: boolean;
}

function timeline(task: Task): Timeline {
  return task.clock
    ? {
        at: tripoSandboxSettings.now() - task.createdAt,
        queued: task.clock.queuedMs,
        running: task.clock.runningMs,
        clock: true,
      }
    : { at: task.polls, queued: task.queuedPolls, running: task.runningPolls, clock: false };
}

/** Whether the point `end` of the timeline has not been reached yet. */
function before(line: Timeline, end: number): boolean {
  return line.clock ? line.at < end : line.at <= end;
}

/** The point after which the task reports how it ended. */
function endsAfter(task: Task, line: Timeline): number {
  switch (task.outcome.when) {
    case 'after-queue':
      return line.queued;
    case 'mid-run':
      return line.queued + Math.ceil(line.running / 2);
    case 'after-run':
      return line.queued + line.running;
    case 'never':
      return Number.POSITIVE_INFINITY;
  }
}

function runningProgress(line: Timeline): number {
  const step = line.at - line.queued;
  if (step >= line.running) return 99;
  return Math.max(1, Math.round((step / line.running) * 95));
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * One poll (`GET /tasks/{id}` or an entry of `/tasks/list`): advances the timeline and answers
 * the task detail. Every poll of a successful task issues fresh download links.
 */
export async function pollTask(task: Task, context: SandboxContext): Promise<Record<string, unknown>> {
  if (!task.finished) task.polls += 1;
  const base = { task_id: task.id, type: task.type };
  const tail = { input: task.input, created_at: iso(task.createdAt) };

  const line = timeline(task);
  if (!task.finished && before(line, endsAfter(task, line))) {
    const queued =
      before(line, line.queued) || (task.outcome.when === 'never' && task.outcome.status === 'queued');
    if (!queued) task.lastProgress = Math.max(task.lastProgress, runningProgress(line));
    task.lastStatus = queued ? 'queued' : 'running';
    return {
      ...base,
      status: task.lastStatus,
      progress: queued ? 0 : task.lastProgress,
      ...tail,
      output: {},
      credits_consumed: 0,
    };
  }

  // `finish` marks the task finished before its first await, so a concurrent poll waits here too.
  if (!task.finished) task.finishing = finish(task);
  await task.finishing;
  const { outcome } = task;
  const succeeded = outcome.status === 'success';
  task.lastStatus = outcome.status;
  const data: Record<string, unknown> = {
    ...base,
    status: outcome.status,
    progress: succeeded ? 100 : task.lastProgress,
    ...tail,
    output: succeeded ? issueOutput(task, context) : {},
    credits_consumed: succeeded ? task.cost : 0,
  };
  if (task.completedAt !== undefined) data.completed_at = iso(task.completedAt);
  if (outcome.errorCode !== undefined) data.error_code = outcome.errorCode;
  if (outcome.errorMessage !== undefined) data.error_message = outcome.errorMessage;
  return data;
}

/** Settles the credits and, on success, makes the result files. */
async function finish(task: Task): Promise<void> {
  task.finished = true;
  if (task.outcome.terminal) task.completedAt = tripoSandboxSettings.now();
  const wallet = account(task.key);
  wallet.frozen = credits(wallet.frozen - task.cost);
  if (task.outcome.status === 'success') task.files = await resultFiles(task);
  else wallet.balance = credits(wallet.balance + task.cost);
  // The decoded input is no longer needed once the task has ended.
  task.render.picture = undefined;
}

async function resultFiles(task: Task): Promise<Map<FileName, StoredFile>> {
  const plan = task.render;
  const texture = plan.textured
    ? await encodePicture(
        await paint({ seed: digest('texture', plan.drawKey), width: 64, height: 64, input: plan.picture }),
        'png',
      )
    : undefined;
  const variant = { colour: plan.tint, texture, pbr: plan.pbr };
  const files = new Map<FileName, StoredFile>();
  const retinted = plan.baseGlb ? retintGlb(plan.baseGlb, plan.tint, plan.pbr) : undefined;
  if (plan.format === 'fbx') {
    files.set('model', {
      bytes: pyramidFbx(plan.meshKey, variant),
      ext: 'fbx',
      contentType: 'application/octet-stream',
    });
  } else {
    files.set('model', {
      bytes: retinted ?? pyramidGlb(plan.meshKey, variant),
      ext: 'glb',
      contentType: 'model/gltf-binary',
    });
  }
  const render = await paint({
    seed: digest('render', plan.drawKey),
    width: tripoSandboxSettings.renderSize,
    height: tripoSandboxSettings.renderSize,
    input: plan.picture,
  });
  files.set('rendered_image', {
    bytes: await encodePicture(render, 'png'),
    ext: 'png',
    contentType: 'image/png',
  });
  return files;
}

const OUTPUT_NAMES: Record<FileName, string> = { model: 'model_url', rendered_image: 'rendered_image_url' };

/** Fresh links to every result file, valid for five minutes from now. */
function issueOutput(task: Task, context: SandboxContext): Record<string, string> {
  const output: Record<string, string> = {};
  const expiresAt = tripoSandboxSettings.now() + URL_TTL_MS;
  for (const [name, file] of task.files ?? []) {
    const id = newId('hex');
    issuedFiles.set(id, { taskId: task.id, name, expiresAt });
    output[OUTPUT_NAMES[name]] =
      `${context.baseUrl}${FILES_PREFIX}${id}/${name}.${file.ext}?Expires=${Math.floor(expiresAt / 1000)}`;
  }
  return output;
}

/** `POST /tasks/list` `{task_ids}` (≤ 100) → `{tasks: {id: detail}, missed: [ids]}`; each found task is polled. */
export async function listTasks(
  raw: Fields,
  key: string,
  context: SandboxContext,
): Promise<Record<string, unknown>> {
  const fields = documentedFields(raw, ['task_ids'], 'tasks/list');
  const ids = fields.task_ids;
  if (ids === undefined) throw invalid('task_ids is required');
  if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== 'string' || id === '')) {
    throw invalid('task_ids must be a non-empty list of task ids');
  }
  if (ids.length > 100) throw invalid('task_ids must hold at most 100 ids');
  const found: Record<string, unknown> = {};
  const missed: string[] = [];
  for (const id of new Set(ids.filter((value): value is string => typeof value === 'string'))) {
    const task = tasks.get(id);
    if (task && task.key === key) found[id] = await pollTask(task, context);
    else missed.push(id);
  }
  return { tasks: found, missed };
}

/** `GET /account/usage?limit=&offset=` → this key's tasks, newest first (no poll is taken). */
export function usage(url: URL, key: string): Record<string, unknown>[] {
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const value = url.searchParams.get(name);
    if (value === null) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw invalid(`${name} must be an integer between ${min} and ${max}`);
    }
    return Number(value);
  };
  const limit = number('limit', 50, 1, 200);
  const offset = number('offset', 0, 0, Number.MAX_SAFE_INTEGER);
  return [...tasks.values()]
    .filter((task) => task.key === key)
    .reverse()
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(offset, offset + limit)
    .map((task) => ({
      task_id: task.id,
      type: task.type,
      status: task.lastStatus,
      credits_consumed: task.finished && task.outcome.status === 'success' ? task.cost : 0,
      created_at: iso(task.createdAt),
    }));
}

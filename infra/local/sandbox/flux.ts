import { createHmac } from 'node:crypto';
import {
  type DecodedInput,
  decodeInput,
  decodeStrictBase64,
  digest,
  encodePicture,
  FetchInputError,
  fetchInput,
  newId,
  paint,
  parseDataUrl,
  readBody,
  readHeader,
  scaled,
  sizeForAspect,
} from './image-input.ts';
import { faultedDownload, parseResultFault, type ResultFault } from './result-faults.ts';
import { jsonResponse, type SandboxContext, type SandboxSimulator } from './sandbox.ts';
import { deliverWebhook } from './webhook-delivery.ts';

/**
 * Black Forest Labs, FLUX.1 Kontext [pro] / [max] (docs/providers/flux.md; faults: docs/api.md, Local stack):
 * `POST /v1/flux-kontext-pro|max` (JSON, `x-key`) creates a task and answers
 * `{id, polling_url, cost, input_mp, output_mp}`; `GET /v1/get_result?id=…` reports it; the result
 * image is served at `GET /delivery/<id>.<jpeg|png>` and answers 403 ten minutes after the task
 * became Ready. Validation errors are FastAPI's 422 `{detail: [{type, loc, msg, input, ctx?}]}`;
 * other errors are `{detail: "<text>"}`.
 *
 * Task timeline, driven by polls (the simulator has no clock of its own): the first
 * `fluxSandboxSettings.pendingPolls` polls (default 2; `setFluxPendingPolls`) answer `Pending`
 * with a rising `progress`, the next one the task's terminal status, and later polls repeat it.
 *
 * Faults (taken once per authorised create or poll call, before validation):
 * - `status` → that status with BFL's body for it, on the call that took it
 *   (400, 401, 402, 403, 404, 422, 429 concurrency, 500, 503, anything else a generic text).
 * - `outcome` → the next task created (by this or a later create call) ends that way:
 *   `"Request Moderated"` at its first poll; `"Content Moderated"` and `"Error"` (with a `details`
 *   message) after the pending polls; `"Task not found"` on every poll; `"Ready"` is the default.
 *   An unknown value ends the task in `Error` naming the value. A poll that takes such a fault
 *   keeps it for the next created task, so the outcome never lands on an unrelated running task.
 * - `moderated: true` → the same as `outcome: "Content Moderated"`.
 * - `outcome: "result:…"` → the next task created ends `Ready`, and downloads of its sample URL
 *   answer with a fault (503/429 a number of times, a redirect, a stall): the grammar is in
 *   ./result-faults.ts.
 * - `timeout` → no answer until the client disconnects.
 *
 * Concurrency: a create answers 429 when the key already has 24 unfinished tasks, or 6 unfinished
 * `flux-kontext-max` tasks for that endpoint. A task stops counting once a poll has seen it finish,
 * or 10 minutes after creation (real tasks finish on their own even when nobody polls).
 */

export const fluxSandboxSettings = {
  /** How many polls answer `Pending` before the terminal status. */
  pendingPolls: 2,
  /** Multiplies each side of the ~1 MP output (tests use e.g. 0.25); keeps the aspect. */
  outputScale: 1,
  /** A task created with `webhook_url` ends this long after creation and calls it back. */
  webhookAfterMs: 1000,
  /** False drops every webhook (a test of the polling fallback); a reset sets it back. */
  deliverWebhooks: true,
};

/**
 * Webhooks: a create with `webhook_url` (and optionally `webhook_secret`) makes the task end on
 * its own after `webhookAfterMs` (or at `flushFluxWebhooks()`), and BFL POSTs to that URL. Body
 * and signature follow BFL's "webhook-integration" agent-skill page (found by the search index
 * without its repository; not confirmed against docs.bfl.ai, checked 2026-12): `{id, status,
 * result?, error?, timestamp}`, and with a secret `X-BFL-Signature: sha256=<hex HMAC-SHA256 of the
 * raw body>`; non-2xx answers are retried after 1, 5 and 30 s (twice here, quickly).
 */
export interface FluxWebhookDelivery {
  taskId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}
const webhookTimers = new Map<string, NodeJS.Timeout>();
const webhookDeliveries: FluxWebhookDelivery[] = [];

/** Every webhook sent since the last reset, oldest first. */
export function fluxWebhookDeliveries(): readonly FluxWebhookDelivery[] {
  return [...webhookDeliveries];
}

/** Ends every task waiting to call back now and sends its webhook. */
export async function flushFluxWebhooks(): Promise<void> {
  const due = [...webhookTimers.keys()];
  await Promise.all(due.map((id) => sendFluxWebhook(id)));
}

async function sendFluxWebhook(id: string): Promise<void> {
  clearTimeout(webhookTimers.get(id));
  if (!webhookTimers.delete(id)) return;
  const task = tasks.get(id);
  if (!task?.webhook) return;
  // The task has ended: the next poll reports its outcome.
  task.pendingPolls = Math.min(task.pendingPolls, task.polls);
  if (!fluxSandboxSettings.deliverWebhooks) return;
  const body = JSON.stringify({
    id: task.id,
    status: task.outcome,
    ...(task.outcome === 'Ready' ? { result: { seed: task.seed, prompt: task.prompt } } : {}),
    ...(task.outcome !== 'Ready' ? { error: task.outcome, message: task.errorDetails ?? task.outcome } : {}),
    timestamp: new Date().toISOString(),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (task.webhook.secret) {
    headers['x-bfl-signature'] =
      `sha256=${createHmac('sha256', task.webhook.secret).update(body).digest('hex')}`;
  }
  const record: FluxWebhookDelivery = { taskId: id, url: task.webhook.url, headers, body, status: 0 };
  webhookDeliveries.push(record);
  await deliverWebhook(task.webhook.url, headers, body, record);
}

export function setFluxPendingPolls(polls: number): void {
  fluxSandboxSettings.pendingPolls = Math.max(0, Math.floor(polls));
}

/** Forgets every task and queued outcome (tests call it between cases). */
export function resetFluxSandbox(): void {
  for (const timer of webhookTimers.values()) clearTimeout(timer);
  webhookTimers.clear();
  webhookDeliveries.length = 0;
  fluxSandboxSettings.deliverWebhooks = true;
  tasks.clear();
  queuedOutcomes.length = 0;
}

type Model = 'flux-kontext-pro' | 'flux-kontext-max';
type Terminal = 'Ready' | 'Error' | 'Request Moderated' | 'Content Moderated' | 'Task not found';
const TERMINALS: readonly Terminal[] = [
  'Ready',
  'Error',
  'Request Moderated',
  'Content Moderated',
  'Task not found',
];

interface Task {
  id: string;
  key: string;
  model: Model;
  createdAt: number;
  pendingPolls: number;
  polls: number;
  outcome: Terminal;
  errorDetails?: string;
  /** Set once a poll has reported the terminal status. */
  finished: boolean;
  prompt: string;
  seed: number;
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  input?: DecodedInput | undefined;
  drawKey: string;
  startTime: number;
  endTime?: number;
  readyAt?: number;
  image?: Buffer;
  /** A scripted fault on downloads of the sample (`outcome: "result:…"`). */
  resultFault?: ResultFault | undefined;
  /** `webhook_url` and `webhook_secret` of the create. */
  webhook?: { url: string; secret?: string | undefined };
}

const tasks = new Map<string, Task>();
const queuedOutcomes: { outcome: Terminal; details?: string; resultFault?: ResultFault }[] = [];

const TASK_LIFETIME_MS = 60 * 60 * 1000;
const ACTIVE_WINDOW_MS = 10 * 60 * 1000;
const DELIVERY_TTL_MS = 10 * 60 * 1000;
const MAX_ACTIVE = 24;
const MAX_ACTIVE_KONTEXT_MAX = 6;
/**
 * Input limits: BFL's Kontext pages (docs.bfl.ai/kontext/kontext_image_editing, checked 2026-12)
 * state none; resellers cite 20 MB and 20 megapixels, read here in their larger, binary sense.
 * Sizes come from the image header, so an image claiming more is refused without being decoded.
 */
const MAX_INPUT_BYTES = 20 * 1024 * 1024;
const MAX_INPUT_PIXELS = 20 * 1024 * 1024;
const COST: Record<Model, number> = { 'flux-kontext-pro': 4, 'flux-kontext-max': 8 };

interface Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request.',
  401: 'Not authenticated',
  402: 'Insufficient credits. Add credits to your account to continue.',
  403: 'Forbidden: this key does not have access to this resource.',
  404: 'Not Found',
  429: 'You have exceeded the number of active tasks allowed for your account. Wait for one of your running tasks to finish.',
  500: 'Internal Server Error',
  503: 'The service is currently overloaded. Please try again later.',
};

function bflError(status: number): Response {
  if (status === 422) {
    return jsonResponse(422, {
      detail: [
        { type: 'value_error', loc: ['body'], msg: 'Value error, rejected (sandbox fault)', input: null },
      ],
    });
  }
  return jsonResponse(status, { detail: ERROR_TEXT[status] ?? `Sandbox fault: HTTP ${status}` });
}

function toTerminal(fault: {
  outcome?: string;
  moderated?: boolean;
}): { outcome: Terminal; details?: string } | undefined {
  if (fault.outcome !== undefined) {
    const known = TERMINALS.find((terminal) => terminal === fault.outcome);
    if (known) return { outcome: known };
    return { outcome: 'Error', details: `Unknown sandbox outcome "${fault.outcome}"` };
  }
  if (fault.moderated) return { outcome: 'Content Moderated' };
  return undefined;
}

/** Pydantic's lax integer: an integral number or a string of one. */
function checkInt(
  body: Record<string, unknown>,
  name: string,
  issues: Issue[],
  range?: [number, number],
): number | undefined {
  const raw = body[name];
  if (raw === undefined || raw === null) return undefined;
  let value: number | undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    if (!Number.isInteger(raw)) {
      issues.push({
        type: 'int_from_float',
        loc: ['body', name],
        msg: 'Input should be a valid integer, got a number with a fractional part',
        input: raw,
      });
      return undefined;
    }
    value = raw;
  } else if (typeof raw === 'string' && /^\s*[-+]?\d+\s*$/.test(raw)) {
    value = Number(raw);
  } else {
    issues.push({
      type: typeof raw === 'string' ? 'int_parsing' : 'int_type',
      loc: ['body', name],
      msg:
        typeof raw === 'string'
          ? 'Input should be a valid integer, unable to parse string as an integer'
          : 'Input should be a valid integer',
      input: raw,
    });
    return undefined;
  }
  if (range && value < range[0]) {
    issues.push({
      type: 'greater_than_equal',
      loc: ['body', name],
      msg: `Input should be greater than or equal to ${range[0]}`,
      input: raw,
      ctx: { ge: range[0] },
    });
  } else if (range && value > range[1]) {
    issues.push({
      type: 'less_than_equal',
      loc: ['body', name],
      msg: `Input should be less than or equal to ${range[1]}`,
      input: raw,
      ctx: { le: range[1] },
    });
  }
  return value;
}

function checkString(body: Record<string, unknown>, name: string, issues: Issue[]): string | undefined {
  const raw = body[name];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') {
    issues.push({
      type: 'string_type',
      loc: ['body', name],
      msg: 'Input should be a valid string',
      input: raw,
    });
    return undefined;
  }
  return raw;
}

function parseAspect(text: string): number | undefined {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) return undefined;
  const w = Number(match[1]);
  const h = Number(match[2]);
  if (w <= 0 || h <= 0) return undefined;
  return w / h;
}

/** Reads `input_image*`: an http(s) URL (fetched, as BFL does) or base64, optionally as a data URL. */
async function readImage(
  value: string,
  name: string,
  issues: Issue[],
  signal: AbortSignal,
): Promise<DecodedInput | undefined> {
  const fail = (why: string): undefined => {
    issues.push({
      type: 'value_error',
      loc: ['body', name],
      msg: `Value error, ${why}`,
      input: value.slice(0, 100),
    });
    return undefined;
  };
  let bytes: Buffer | undefined;
  if (/^https?:\/\//i.test(value)) {
    try {
      bytes = await fetchInput(value, MAX_INPUT_BYTES, signal);
    } catch (error) {
      if (error instanceof FetchInputError) return fail(error.message);
      throw error;
    }
  } else {
    bytes = value.startsWith('data:') ? parseDataUrl(value) : decodeStrictBase64(value);
    if (!bytes) return fail('must be a base64-encoded image or an http(s) URL');
  }
  if (bytes.length > MAX_INPUT_BYTES) return fail('image is larger than 20 MB');
  const undecodable = () => fail('could not decode the image (expected JPEG, PNG or WebP)');
  // The size limit is checked on the header, so an image over it is refused undecoded.
  const header = readHeader(bytes);
  if (!header) return undecodable();
  if (header.width * header.height > MAX_INPUT_PIXELS) return fail('image is larger than 20 megapixels');
  return (await decodeInput(bytes, MAX_INPUT_PIXELS)) ?? undecodable();
}

function activeTasks(key: string, now: number): Task[] {
  return [...tasks.values()].filter(
    (task) =>
      task.key === key &&
      !task.finished &&
      task.outcome !== 'Task not found' &&
      task.outcome !== 'Request Moderated' &&
      now - task.createdAt < ACTIVE_WINDOW_MS,
  );
}

function pruneTasks(now: number): void {
  for (const [id, task] of tasks) {
    if (now - task.createdAt > TASK_LIFETIME_MS) tasks.delete(id);
  }
}

async function create(
  model: Model,
  request: Request,
  fields: Record<string, unknown>,
  key: string,
  context: SandboxContext,
): Promise<Response> {
  const issues: Issue[] = [];
  const prompt = checkString(fields, 'prompt', issues);
  if (fields.prompt === undefined || fields.prompt === null) {
    issues.push({ type: 'missing', loc: ['body', 'prompt'], msg: 'Field required', input: fields });
  }
  const seed = checkInt(fields, 'seed', issues);
  checkInt(fields, 'safety_tolerance', issues, [0, 6]);
  const aspectText = checkString(fields, 'aspect_ratio', issues);
  let aspect: number | undefined;
  if (aspectText !== undefined) {
    aspect = parseAspect(aspectText);
    if (aspect === undefined || aspect > 21 / 9 + 1e-9 || aspect < 9 / 21 - 1e-9) {
      issues.push({
        type: 'value_error',
        loc: ['body', 'aspect_ratio'],
        msg: 'Value error, Aspect ratio must be between 21:9 and 9:21',
        input: aspectText,
      });
    }
  }
  const requestedFormat = fields.output_format ?? 'png';
  const format = requestedFormat === 'jpeg' ? 'jpeg' : 'png';
  if (requestedFormat !== 'jpeg' && requestedFormat !== 'png') {
    issues.push({
      type: 'enum',
      loc: ['body', 'output_format'],
      msg: "Input should be 'jpeg' or 'png'",
      input: requestedFormat,
      ctx: { expected: "'jpeg' or 'png'" },
    });
  }
  const upsampling = fields.prompt_upsampling;
  if (upsampling !== undefined && upsampling !== null && typeof upsampling !== 'boolean') {
    issues.push({
      type: 'bool_type',
      loc: ['body', 'prompt_upsampling'],
      msg: 'Input should be a valid boolean',
      input: upsampling,
    });
  }
  const webhook = checkString(fields, 'webhook_url', issues);
  if (webhook !== undefined) {
    if (webhook.length > 2083) {
      issues.push({
        type: 'url_too_long',
        loc: ['body', 'webhook_url'],
        msg: 'URL should have at most 2083 characters',
        input: webhook.slice(0, 100),
        ctx: { max_length: 2083 },
      });
    } else if (!URL.canParse(webhook) || !/^https?:\/\//i.test(webhook)) {
      issues.push({
        type: 'url_parsing',
        loc: ['body', 'webhook_url'],
        msg: 'Input should be a valid URL',
        input: webhook,
      });
    }
  }
  const webhookSecret = checkString(fields, 'webhook_secret', issues);

  const inputs: DecodedInput[] = [];
  for (const name of ['input_image', 'input_image_2', 'input_image_3', 'input_image_4']) {
    const value = checkString(fields, name, issues);
    if (value === undefined) continue;
    const decoded = await readImage(value, name, issues, request.signal);
    if (decoded) inputs.push(decoded);
  }
  if (issues.length > 0) return jsonResponse(422, { detail: issues });

  const now = Date.now();
  pruneTasks(now);
  const active = activeTasks(key, now);
  if (active.length >= MAX_ACTIVE) return bflError(429);
  if (
    model === 'flux-kontext-max' &&
    active.filter((task) => task.model === model).length >= MAX_ACTIVE_KONTEXT_MAX
  ) {
    return bflError(429);
  }

  const first = inputs[0];
  // Without aspect_ratio the output keeps the input's proportions (clamped to the allowed range).
  const ratio = aspect ?? (first ? Math.min(21 / 9, Math.max(9 / 21, first.width / first.height)) : 1);
  const size = scaled(sizeForAspect(ratio, 1024 * 1024, 16), fluxSandboxSettings.outputScale);
  const inputKey = inputs.map((input) => digest(input.bytes)).join(',');
  const usedSeed = seed ?? Number.parseInt(digest(model, prompt ?? '', inputKey).slice(0, 8), 16);
  const queued = queuedOutcomes.shift();
  const id = newId('uuid');
  const task: Task = {
    id,
    key,
    model,
    createdAt: now,
    pendingPolls: fluxSandboxSettings.pendingPolls,
    polls: 0,
    outcome: queued?.outcome ?? 'Ready',
    finished: false,
    prompt: prompt ?? '',
    seed: usedSeed,
    format,
    width: size.width,
    height: size.height,
    input: first,
    drawKey: digest(model, prompt ?? '', String(usedSeed), inputKey, String(ratio)),
    startTime: now / 1000,
  };
  if (queued?.details !== undefined) task.errorDetails = queued.details;
  if (queued?.resultFault !== undefined) task.resultFault = queued.resultFault;
  tasks.set(id, task);
  if (webhook !== undefined) {
    task.webhook = { url: webhook, secret: webhookSecret };
    const timer = setTimeout(() => void sendFluxWebhook(id), fluxSandboxSettings.webhookAfterMs);
    timer.unref();
    webhookTimers.set(id, timer);
  }

  const megapixels = (pixels: number): number => Math.round((pixels / 1_000_000) * 100) / 100;
  return jsonResponse(200, {
    id,
    polling_url: `${context.baseUrl}/v1/get_result?id=${encodeURIComponent(id)}`,
    cost: COST[model],
    input_mp: megapixels(inputs.reduce((sum, input) => sum + input.width * input.height, 0)),
    output_mp: megapixels(size.width * size.height),
  });
}

async function poll(task: Task | undefined, id: string, context: SandboxContext): Promise<Response> {
  const status = (
    value: string,
    extra: { result?: unknown; progress?: number | null; details?: unknown } = {},
  ): Response =>
    jsonResponse(200, {
      id,
      status: value,
      result: extra.result ?? null,
      progress: extra.progress ?? null,
      details: extra.details ?? null,
      preview: null,
    });

  if (!task || task.outcome === 'Task not found') return status('Task not found');
  if (!task.finished && task.outcome !== 'Request Moderated' && task.polls < task.pendingPolls) {
    task.polls += 1;
    return status('Pending', { progress: Math.round((task.polls / (task.pendingPolls + 1)) * 100) / 100 });
  }
  if (!task.finished) {
    task.finished = true;
    task.endTime = Date.now() / 1000;
    if (task.outcome === 'Ready') {
      const picture = await paint({
        seed: task.drawKey,
        width: task.width,
        height: task.height,
        input: task.input,
      });
      task.image = await encodePicture(picture, task.format);
      task.readyAt = Date.now();
    }
    // The decoded input is no longer needed once the result exists.
    task.input = undefined;
  }
  switch (task.outcome) {
    case 'Ready': {
      const end = task.endTime ?? task.startTime;
      return status('Ready', {
        progress: 1,
        result: {
          sample: `${context.baseUrl}/delivery/${task.id}.${task.format}`,
          seed: task.seed,
          prompt: task.prompt,
          start_time: task.startTime,
          end_time: end,
          duration: end - task.startTime,
        },
      });
    }
    case 'Error':
      return status('Error', {
        details: { message: task.errorDetails ?? 'Generation failed (sandbox fault).' },
      });
    case 'Request Moderated':
      return status('Request Moderated', { details: { 'Moderation Reasons': ['Sandbox fault'] } });
    default:
      return status('Content Moderated', { details: { 'Moderation Reasons': ['Sandbox fault'] } });
  }
}

function azureError(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    {
      status,
      headers: { 'content-type': 'application/xml' },
    },
  );
}

async function delivery(path: string, request: Request, context: SandboxContext): Promise<Response> {
  const match = /^\/delivery\/([A-Za-z0-9-]+)\.(jpeg|png)$/.exec(path);
  const task = match ? tasks.get(match[1] ?? '') : undefined;
  if (!match || !task?.image || task.format !== match[2]) {
    return azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
  }
  if (Date.now() - (task.readyAt ?? 0) > DELIVERY_TTL_MS) {
    return azureError(403, 'AuthenticationFailed', 'Signed expiry time has passed.');
  }
  const faulted = await faultedDownload(task.resultFault, request, context);
  if (faulted) return faulted;
  return new Response(new Uint8Array(task.image), {
    status: 200,
    headers: { 'content-type': task.format === 'png' ? 'image/png' : 'image/jpeg' },
  });
}

const CREATE_PATHS: Record<string, Model> = {
  '/v1/flux-kontext-pro': 'flux-kontext-pro',
  '/v1/flux-kontext-max': 'flux-kontext-max',
};

export const fluxSimulator: SandboxSimulator = {
  provider: 'flux',
  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    const contentType = request.headers.get('content-type') ?? '';
    const body = await readBody(request, path);
    context.record(body.recorded);

    if (path.startsWith('/delivery/')) {
      return request.method === 'GET' || request.method === 'HEAD'
        ? delivery(path, request, context)
        : jsonResponse(405, { detail: 'Method Not Allowed' });
    }
    const model = CREATE_PATHS[path];
    const isPoll = path === '/v1/get_result';
    if (!model && !isPoll) return jsonResponse(404, { detail: 'Not Found' });
    if ((model && request.method !== 'POST') || (isPoll && request.method !== 'GET')) {
      return jsonResponse(405, { detail: 'Method Not Allowed' });
    }

    const key = request.headers.get('x-key')?.trim() ?? '';
    if (key === '') return jsonResponse(403, { detail: 'Not authenticated' });

    const fault = context.takeFault();
    if (fault?.timeout) return context.hang(request);
    if (fault?.status !== undefined) return bflError(fault.status);
    const resultFault = parseResultFault(fault?.outcome);
    const outcome = resultFault
      ? { outcome: 'Ready' as const, resultFault }
      : fault
        ? toTerminal(fault)
        : undefined;
    if (outcome) queuedOutcomes.push(outcome);

    if (isPoll) {
      const id = new URL(request.url).searchParams.get('id');
      if (id === null) {
        return jsonResponse(422, {
          detail: [{ type: 'missing', loc: ['query', 'id'], msg: 'Field required', input: null }],
        });
      }
      const task = tasks.get(id);
      return poll(task && task.key === key ? task : undefined, id, context);
    }
    if (!model) return jsonResponse(404, { detail: 'Not Found' });

    // Like FastAPI: a JSON body is read when the content type says JSON or is absent.
    const jsonBody = contentType === '' || contentType.toLowerCase().includes('json');
    if (body.malformed !== undefined || body.jsonError !== undefined || !jsonBody) {
      const jsonBroken = body.jsonError === 'body is not valid JSON';
      return jsonResponse(422, {
        detail: [
          jsonBroken
            ? {
                type: 'json_invalid',
                loc: ['body', 0],
                msg: 'JSON decode error',
                input: {},
                ctx: { error: 'Expecting value' },
              }
            : {
                type: 'model_attributes_type',
                loc: ['body'],
                msg: 'Input should be a valid dictionary or object to extract fields from',
                input: null,
              },
        ],
      });
    }
    return create(model, request, body.recorded.fields, key, context);
  },
};

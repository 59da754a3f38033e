import { randomUUID } from 'node:crypto';
import { glbContainer } from './glb.ts';
import {
  type DecodedInput,
  decodeInput,
  digest,
  encodePicture,
  FetchInputError,
  fetchInput,
  newId,
  paint,
  readBody,
  sniffFormat,
} from './image-input.ts';
import { type Fault, jsonResponse, type SandboxContext, type SandboxSimulator } from './sandbox.ts';

/**
 * Tripo 3D API v2 (provider-contracts §6, simulator duties §10.5), mounted so that the adapter's
 * base URL is `<mount>/v2/openapi`:
 * - `POST /v2/openapi/task` (JSON; `type` = `text_to_model` | `image_to_model` |
 *   `multiview_to_model` | `refine_model`) → `{code: 0, data: {task_id}}`;
 * - `GET /v2/openapi/task/{task_id}` → `{code: 0, data: {task_id, type, status, input, output,
 *   progress, create_time, consumed_credit, queuing_num, running_left_time, error_code?, error_msg?}}`;
 * - `POST /v2/openapi/upload` and `/v2/openapi/upload/sts` (multipart `file`) → `{code: 0, data: {image_token}}`;
 * - `GET /v2/openapi/user/balance` → `{code: 0, data: {balance, frozen}}`;
 * - `GET /v2/openapi/__files/<id>/<name>.<ext>`: the result files (GLB models, FBX when `quad`,
 *   PNG previews). Like Tripo's signed links they need no key and stop working five minutes
 *   after they were issued (403); every `GET /task` of a successful task issues fresh ones.
 *
 * Every answer carries `X-Tripo-Trace-ID`; errors are `{code, message, suggestion}` with the HTTP
 * status of Tripo's error table. Keys are `Authorization: Bearer tsk_…`; the local stack's
 * placeholder key `sandbox` is accepted too, because the stack hands that value to every
 * sandboxed provider. Tasks, upload tokens and credits belong to the key that created them.
 *
 * Validation answers the first problem found: 1003 for a body that is not a JSON object, 2002 for
 * an unknown `type`, 2017/2015 for an unknown/deprecated `model_version`, 2009 for emoji in a
 * prompt, 2003/2004/2019 for missing, unsupported or unknown input files, 2001/2006/2007 for refine
 * drafts that are missing, not refinable, or not (yet) successful, and 1004 for everything else
 * (types, enums, lengths, ranges, combinations). Fields Tripo does not document for the `type`
 * are rejected with 1004 by default, so a BFF that leaks its own fields (the Python BFF sent
 * `task_id`, `provider`, Stability options…) fails loudly; `tripoSandboxSettings.extraFields =
 * 'accept'` ignores them instead. Either way the recorded request keeps the body as sent.
 *
 * Task timeline, driven by polls (the simulator has no clock of its own for progress): the first
 * `queuedPolls` polls (default 2) answer `queued` (progress 0, `queuing_num` counting down to 0),
 * the next `runningPolls` polls (default 3) answer `running` with rising progress, the last of them
 * at 99 with an empty `output` (Tripo's own example), and the next one the terminal status, which
 * later polls repeat. `setTripoTimeline` changes both counts for tasks created afterwards.
 *
 * Faults (taken once per authorised API call — create, poll, upload, balance — before validation;
 * result downloads take none):
 * - `status` → that HTTP status with Tripo's body for it: 400/1004, 401/1002, 403/2010 (credits),
 *   404/2001, 429/2000 with `Retry-After`, 5xx/1000, any other status code 1000. An `outcome` of
 *   four digits picks another code from the table for the same status, e.g. `{status: 429,
 *   outcome: "1007"}` (request rate) or `{status: 403, outcome: "1005"}`.
 * - `outcome` → the next task created (by this or a later create) ends that way: `success`;
 *   `failed` (error_code 1001) or `failed:<code>` after half its running polls; `unknown` likewise;
 *   `banned` after all its running polls; `expired` and `cancelled` straight out of the queue.
 *   Any other value ends the task `failed` with error_code 1000 and a message naming the value.
 * - `moderated: true` → the next create (that passes validation) answers 400/2008.
 * - `timeout` → no answer until the client disconnects.
 *
 * Concurrency: a create answers 429/2000 (with `Retry-After`) when the key already has 10 queued or
 * running text/image/multiview tasks (5 for `P1-20260311`, 5 `refine_model`). A task stops counting
 * once a poll has seen it finish, or 30 minutes after creation (real tasks finish unwatched).
 *
 * Credits: each key starts with `initialBalance`; a create freezes the task's price (Tripo's price
 * list) or answers 403/2010 when the balance cannot cover it; success settles the frozen credits,
 * any other end refunds them. `consumed_credit` is the price once successful, 0 otherwise.
 *
 * Not simulated: other task types (`texture_model`, `convert_model`, … → 2002), STS uploads
 * (`/upload/sts/token`; an `object` file reference therefore answers 404/2019), the WebSocket
 * watch, and the per-minute 1007 quota (only reachable through a fault).
 */

const DEFAULTS = {
  queuedPolls: 2,
  runningPolls: 3,
  initialBalance: 10_000,
  extraFields: 'reject' as 'reject' | 'accept',
  renderSize: 256,
  retryAfterSeconds: 10,
};

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
  /** Side of the square `rendered_image` preview. */
  renderSize: number;
  /** `Retry-After` (seconds) on 429 answers. */
  retryAfterSeconds: number;
  /** The clock behind URL and token expiry and the concurrency window (tests move it). */
  now: () => number;
} = { ...DEFAULTS, now: () => Date.now() };

export function setTripoTimeline(queuedPolls: number, runningPolls: number): void {
  tripoSandboxSettings.queuedPolls = Math.max(0, Math.floor(queuedPolls));
  tripoSandboxSettings.runningPolls = Math.max(0, Math.floor(runningPolls));
}

/** Forgets every task, upload, issued URL, account and queued outcome, and restores the defaults. */
export function resetTripoSandbox(): void {
  tasks.clear();
  uploads.clear();
  issuedFiles.clear();
  accounts.clear();
  queuedEffects.length = 0;
  Object.assign(tripoSandboxSettings, DEFAULTS, { now: () => Date.now() });
}

const API = '/v2/openapi';
const FILES_PREFIX = `${API}/__files/`;
const PLACEHOLDER_KEY = 'sandbox';
const URL_TTL_MS = 5 * 60 * 1000;
/** Expired links answer 403 for a day before they are forgotten (and answer 404). */
const ISSUED_MEMORY_MS = 24 * 60 * 60 * 1000;
const UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;
const TASK_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const ACTIVE_WINDOW_MS = 30 * 60 * 1000;
const MAX_FILE_BYTES = 20 * 1024 * 1024;
const MIN_SIDE = 20;
const MAX_SIDE = 6000;
/** Seconds a poll stands for when estimating `running_left_time`. */
const SECONDS_PER_POLL = 5;

type TaskType = 'text_to_model' | 'image_to_model' | 'multiview_to_model' | 'refine_model';
type Terminal = 'success' | 'failed' | 'banned' | 'expired' | 'cancelled' | 'unknown';
type Bucket = 'generation' | 'p1' | 'refine';
type FileName = 'model' | 'pbr_model' | 'base_model' | 'rendered_image';

interface Outcome {
  status: Terminal;
  errorCode?: number;
  errorMsg?: string;
}

interface StoredFile {
  bytes: Buffer;
  ext: 'glb' | 'fbx' | 'png';
  contentType: string;
}

interface Task {
  id: string;
  key: string;
  type: TaskType;
  modelVersion: string;
  bucket: Bucket;
  createdAt: number;
  queuedPolls: number;
  runningPolls: number;
  polls: number;
  outcome: Outcome;
  input: Record<string, unknown>;
  textured: boolean;
  pbr: boolean;
  quad: boolean;
  cost: number;
  drawKey: string;
  tint: [number, number, number];
  /** The (front) input picture, blended into the preview; dropped once the task ends. */
  picture?: DecodedInput | undefined;
  lastProgress: number;
  /** Set once a poll has reported the terminal status (credits are settled then). */
  finished: boolean;
  files?: Map<FileName, StoredFile>;
}

interface Upload {
  key: string;
  bytes: Buffer;
  createdAt: number;
}

interface IssuedFile {
  taskId: string;
  name: FileName;
  expiresAt: number;
}

const tasks = new Map<string, Task>();
const uploads = new Map<string, Upload>();
const issuedFiles = new Map<string, IssuedFile>();
const accounts = new Map<string, { balance: number; frozen: number }>();
/** Effects scripted by faults, each consumed by one later create. */
const queuedEffects: ({ kind: 'outcome'; outcome: Outcome } | { kind: 'moderated' })[] = [];

// ——— Errors ———

const ERRORS: Record<number, { status: number; message: string; suggestion: string }> = {
  1000: {
    status: 500,
    message: 'Unknown error.',
    suggestion: 'Please retry later; if it persists, contact support with the trace id.',
  },
  1001: {
    status: 500,
    message: 'Fatal server error.',
    suggestion: 'Please retry later; if it persists, contact support with the trace id.',
  },
  1002: { status: 401, message: 'Authentication failed.', suggestion: 'Please check your API key.' },
  1003: {
    status: 400,
    message: 'The request body is malformed.',
    suggestion: 'Please send a valid JSON object.',
  },
  1004: {
    status: 400,
    message: 'Invalid parameter.',
    suggestion: 'Please check the parameters against the documentation.',
  },
  1005: {
    status: 403,
    message: 'You are not allowed to access this resource.',
    suggestion: 'Please check your permissions.',
  },
  1007: {
    status: 429,
    message: 'You have exceeded the request rate limit.',
    suggestion: 'Please slow down and retry later.',
  },
  2000: {
    status: 429,
    message: 'You have exceeded the limit of generation.',
    suggestion: 'Please retry later.',
  },
  2001: {
    status: 404,
    message: 'Task not found.',
    suggestion: 'Please check if you passed the correct task id.',
  },
  2002: {
    status: 400,
    message: 'The task type is unsupported.',
    suggestion: 'Please check if you passed the correct task type.',
  },
  2003: {
    status: 400,
    message: 'The input file is empty.',
    suggestion: 'Please check if you passed file, or it may be rejected by our firewall.',
  },
  2004: {
    status: 400,
    message: 'The file type is unsupported.',
    suggestion: 'Please check if the file you input is supported.',
  },
  2005: {
    status: 400,
    message: 'The original task is not a succeeded task.',
    suggestion: 'Please use a successful task.',
  },
  2006: {
    status: 400,
    message: 'The task is not a draft task.',
    suggestion:
      'Please use a draft model to start refine. It is not supported to refine a model from a non-draft model, e.g., refine a model twice.',
  },
  2007: {
    status: 400,
    message: 'The status of the draft task is not success.',
    suggestion: 'Use a successful draft model task to refine.',
  },
  2008: {
    status: 400,
    message: 'Task is rejected because the input violates our content policy.',
    suggestion: 'Please modify your input and retry. If you believe the input should be valid, contact us.',
  },
  2009: {
    status: 400,
    message: 'The prompt contains invalid characters.',
    suggestion: 'Please remove emojis and special unicode characters.',
  },
  2010: {
    status: 403,
    message: 'You need more credits to start a new task.',
    suggestion: 'Please review your usage at Billing and purchase more credits.',
  },
  2011: { status: 400, message: 'The rig check failed.', suggestion: 'Please use a riggable model.' },
  2012: { status: 400, message: 'The rig input is invalid.', suggestion: 'Please check the rig input.' },
  2013: { status: 403, message: 'Invalid priority.', suggestion: 'Please check the priority.' },
  2014: {
    status: 400,
    message: 'Audit service error.',
    suggestion: 'Content moderation service encountered an error. Please retry or contact support.',
  },
  2015: {
    status: 400,
    message: 'The version has been deprecated, please try higher version.',
    suggestion: 'Try higher version please.',
  },
  2016: {
    status: 400,
    message: 'The request type has been deprecated.',
    suggestion: 'Please use a supported task type.',
  },
  2017: {
    status: 400,
    message: 'Invalid model version.',
    suggestion: 'The model_version parameter is invalid. Please check the available versions.',
  },
  2018: { status: 400, message: 'The model is too complex to remesh.', suggestion: 'Try another model.' },
  2019: {
    status: 404,
    message: 'File not found.',
    suggestion: 'The referenced file does not exist in storage. Please verify the file reference.',
  },
};

/** A rejection found while handling a request; `handle` turns it into Tripo's error body. */
class TripoFailure extends Error {
  override readonly name = 'TripoFailure';
  constructor(
    readonly code: number,
    readonly detail?: string,
  ) {
    super(detail ?? ERRORS[code]?.message ?? `Tripo error ${code}`);
  }
}

const invalid = (detail: string): TripoFailure => new TripoFailure(1004, detail);

function tripoError(code: number, options: { status?: number; detail?: string } = {}): Response {
  const known = ERRORS[code] ?? ERRORS[1000];
  const status = options.status ?? known?.status ?? 500;
  const message = options.detail === undefined ? (known?.message ?? '') : options.detail;
  const headers: Record<string, string> =
    status === 429 ? { 'retry-after': String(tripoSandboxSettings.retryAfterSeconds) } : {};
  return jsonResponse(status, { code, message, suggestion: known?.suggestion ?? '' }, headers);
}

const FAULT_CODES: Record<number, number> = { 400: 1004, 401: 1002, 403: 2010, 404: 2001, 429: 2000 };

function faultResponse(fault: Fault & { status: number }): Response {
  const chosen = fault.outcome !== undefined && /^\d{4}$/.test(fault.outcome) ? Number(fault.outcome) : NaN;
  const code = ERRORS[chosen] ? chosen : (FAULT_CODES[fault.status] ?? 1000);
  return tripoError(code, { status: fault.status });
}

function toOutcome(value: string): Outcome {
  const failed = /^failed(?::(\d+))?$/.exec(value);
  if (failed) {
    const code = failed[1] === undefined ? 1001 : Number(failed[1]);
    return { status: 'failed', errorCode: code, errorMsg: ERRORS[code]?.message ?? 'Generation failed.' };
  }
  switch (value) {
    case 'success':
    case 'expired':
    case 'cancelled':
      return { status: value };
    case 'banned':
      return { status: 'banned', errorMsg: ERRORS[2008]?.message ?? 'Banned.' };
    case 'unknown':
      return { status: 'unknown', errorMsg: 'The task status cannot be determined.' };
    default:
      return { status: 'failed', errorCode: 1000, errorMsg: `Unknown sandbox outcome "${value}"` };
  }
}

// ——— Field parsing ———

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function optionalBool(fields: Fields, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean`);
  return value;
}

function optionalInt(fields: Fields, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(`${name} must be an integer`);
  return value;
}

function optionalEnum<T extends string>(fields: Fields, name: string, values: readonly T[]): T | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  const match = values.find((candidate) => candidate === value);
  if (match === undefined) throw invalid(`${name} must be one of: ${values.join(', ')}`);
  return match;
}

function optionalText(fields: Fields, name: string, max: number): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  if ([...value].length > max) throw invalid(`${name} must be at most ${max} characters`);
  // Tripo: "emojis and certain special Unicode characters are not supported".
  if (/\p{Extended_Pictographic}/u.test(value)) {
    throw new TripoFailure(2009, `${name} contains invalid characters (emoji)`);
  }
  return value;
}

// ——— Task types, versions and options ———

const TASK_TYPES: readonly TaskType[] = [
  'text_to_model',
  'image_to_model',
  'multiview_to_model',
  'refine_model',
];
/** Documented types the sandbox does not simulate; they answer 2002 with a note saying so. */
const OTHER_TYPES = [
  'texture_model',
  'convert_model',
  'stylize_model',
  'animate_prerigcheck',
  'animate_rig',
  'animate_retarget',
  'mesh_segmentation',
  'mesh_completion',
  'highpoly_to_lowpoly',
  'import_model',
  'text_to_image',
  'generate_image',
  'generate_multiview_image',
  'edit_multiview_image',
];

const DEFAULT_VERSION = 'v2.5-20250123';
const VERSIONS = [
  'v2.5-20250123',
  'v2.0-20240919',
  'v3.0-20250812',
  'v3.1-20260211',
  'P1-20260311',
  'Turbo-v1.0-20250506',
  'v1.4-20240625',
];
const DEPRECATED_VERSIONS = ['v1.3-20240522'];
/** Only drafts from before v2.0 can be refined. */
const isDraftVersion = (version: string): boolean => version.startsWith('v1.');

const LEGACY_STYLES = [
  'person:person2cartoon',
  'animal:venom',
  'object:clay',
  'object:steampunk',
  'object:christmas',
  'object:barbie',
  'gold',
  'ancient_bronze',
];

const COMMON_FIELDS = [
  'type',
  'model_version',
  'model_seed',
  'texture_seed',
  'texture',
  'pbr',
  'texture_quality',
  'face_limit',
  'quad',
  'smart_low_poly',
  'generate_parts',
  'auto_size',
  'compress',
  'export_uv',
  'geometry_quality',
];
const IMAGE_FIELDS = ['texture_alignment', 'orientation', 'enable_image_autofix'];
const KNOWN_FIELDS: Record<TaskType, readonly string[]> = {
  text_to_model: [...COMMON_FIELDS, 'prompt', 'negative_prompt', 'image_seed', 'style'],
  image_to_model: [...COMMON_FIELDS, ...IMAGE_FIELDS, 'file', 'style'],
  multiview_to_model: [
    ...COMMON_FIELDS,
    ...IMAGE_FIELDS,
    'files',
    'original_task_id',
    'orthographic_projection',
  ],
  refine_model: ['type', 'draft_model_task_id'],
};

interface Options {
  modelVersion: string;
  textured: boolean;
  pbr: boolean;
  quad: boolean;
  cost: number;
}

/** Checks the generation options every model type shares and prices the task. */
function commonOptions(fields: Fields, type: TaskType): Options {
  const rawVersion = fields.model_version;
  if (rawVersion !== undefined && typeof rawVersion !== 'string')
    throw invalid('model_version must be a string');
  const modelVersion = rawVersion ?? DEFAULT_VERSION;
  if (DEPRECATED_VERSIONS.includes(modelVersion)) throw new TripoFailure(2015);
  if (!VERSIONS.includes(modelVersion))
    throw new TripoFailure(2017, `Invalid model version: ${modelVersion}`);
  if (type === 'multiview_to_model') {
    // The multiview page lists v1.4 as deprecated and offers no Turbo model.
    if (isDraftVersion(modelVersion)) throw new TripoFailure(2015);
    if (modelVersion.startsWith('Turbo')) {
      throw new TripoFailure(2017, `${modelVersion} is not available for multiview_to_model`);
    }
  }

  for (const name of ['model_seed', 'texture_seed', 'image_seed']) optionalInt(fields, name);
  const texture = optionalBool(fields, 'texture');
  const pbrField = optionalBool(fields, 'pbr');
  const quad = optionalBool(fields, 'quad') ?? false;
  const smartLowPoly = optionalBool(fields, 'smart_low_poly') ?? false;
  const generateParts = optionalBool(fields, 'generate_parts') ?? false;
  for (const name of ['auto_size', 'export_uv', 'enable_image_autofix', 'orthographic_projection']) {
    optionalBool(fields, name);
  }
  const quality = optionalEnum(fields, 'texture_quality', ['standard', 'detailed', 'extreme']);
  optionalEnum(fields, 'compress', ['geometry']);
  optionalEnum(fields, 'geometry_quality', ['standard', 'detailed']);
  optionalEnum(fields, 'texture_alignment', ['original_image', 'geometry']);
  const orientation = optionalEnum(fields, 'orientation', ['default', 'align_image']);
  optionalEnum(fields, 'style', LEGACY_STYLES);

  // pbr defaults to true and forces texturing, so a model is untextured only when both are off.
  const pbr = pbrField ?? true;
  const textured = pbr || (texture ?? true);
  if (quality === 'standard' && texture === false && pbrField === false) {
    throw invalid('texture_quality=standard requires texture or pbr to be enabled');
  }
  if (orientation === 'align_image' && !textured)
    throw invalid('orientation=align_image requires texture=true');
  if (generateParts && (texture !== false || pbrField !== false || quad)) {
    throw invalid('generate_parts requires texture=false, pbr=false and quad=false');
  }

  const faceLimit = optionalInt(fields, 'face_limit');
  if (faceLimit !== undefined) {
    const [min, max] = modelVersion.startsWith('P1')
      ? [48, 20_000]
      : smartLowPoly && quad
        ? [500, 10_000]
        : smartLowPoly
          ? [1_000, 20_000]
          : [1, 500_000];
    if (faceLimit < min || faceLimit > max) throw invalid(`face_limit must be between ${min} and ${max}`);
  }

  // Tripo's price list: 10 (text) / 20 (image, multiview), textures by quality, and surcharges.
  let cost = type === 'text_to_model' ? 10 : 20;
  if (textured) cost += quality === 'extreme' ? 30 : quality === 'detailed' ? 20 : 10;
  if (quad) cost += 5;
  if (smartLowPoly) cost += 10;
  if (generateParts) cost += 20;
  return { modelVersion, textured, pbr: pbr && !isDraftVersion(modelVersion), quad, cost };
}

// ——— Input images ———

async function checkImage(bytes: Buffer, where: string, allowWebp: boolean): Promise<DecodedInput> {
  if (bytes.length === 0) throw new TripoFailure(2003, `${where}: the file is empty`);
  if (bytes.length > MAX_FILE_BYTES) throw invalid(`${where}: the file is larger than 20 MB`);
  const format = sniffFormat(bytes);
  if (format !== 'png' && format !== 'jpeg' && !(allowWebp && format === 'webp')) {
    throw new TripoFailure(
      2004,
      `${where}: unsupported file type ${format ?? 'unknown'} (${allowWebp ? 'webp, jpeg, png' : 'jpeg, png'})`,
    );
  }
  const decoded = await decodeInput(bytes);
  if (!decoded) throw new TripoFailure(2004, `${where}: the image could not be decoded`);
  const { width, height } = decoded;
  if (width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE) {
    throw invalid(`${where}: resolution must be between 20x20 and 6000x6000 px (got ${width}x${height})`);
  }
  return decoded;
}

/**
 * One file object (`{type?, file_token | url | object}`); undefined when it names no source,
 * which is how a multiview slot is left empty.
 */
async function resolveFile(
  value: unknown,
  where: string,
  key: string,
  signal: AbortSignal,
): Promise<DecodedInput | undefined> {
  if (!isObject(value)) throw invalid(`${where} must be an object`);
  const sources = ['file_token', 'url', 'object'].filter((name) => value[name] !== undefined);
  if (sources.length === 0) return undefined;
  if (sources.length > 1) throw invalid(`${where}: file_token, url and object are mutually exclusive`);
  if (value.type !== undefined && typeof value.type !== 'string')
    throw invalid(`${where}.type must be a string`);

  if (value.file_token !== undefined) {
    if (typeof value.file_token !== 'string') throw invalid(`${where}.file_token must be a string`);
    const upload = uploads.get(value.file_token);
    if (!upload || upload.key !== key || tripoSandboxSettings.now() - upload.createdAt > UPLOAD_TTL_MS) {
      throw new TripoFailure(2019, `${where}: no uploaded file for this file_token`);
    }
    return checkImage(upload.bytes, where, true);
  }
  if (value.url !== undefined) {
    if (typeof value.url !== 'string' || !/^https?:\/\//i.test(value.url) || !URL.canParse(value.url)) {
      throw invalid(`${where}.url must be an http(s) URL`);
    }
    let bytes: Buffer;
    try {
      // The size is checked afterwards so that an oversized file gets its own error.
      bytes = await fetchInput(value.url, Number.MAX_SAFE_INTEGER, signal);
    } catch (error) {
      if (error instanceof FetchInputError) throw new TripoFailure(2003, `${where}: ${error.message}`);
      throw error;
    }
    // Tripo documents JPEG and PNG for URLs (WebP only through uploads).
    return checkImage(bytes, where, false);
  }
  const object = value.object;
  if (!isObject(object) || typeof object.bucket !== 'string' || typeof object.key !== 'string') {
    throw invalid(`${where}.object must be {bucket, key}`);
  }
  // Nothing can have been put in the STS bucket: the sandbox does not issue STS credentials.
  throw new TripoFailure(2019, `${where}: object ${object.bucket}/${object.key} does not exist`);
}

function averageColour(picture: DecodedInput): [number, number, number] {
  const { data, width, height } = picture.image.bitmap;
  const total = width * height;
  const step = Math.max(1, Math.floor(total / 4096));
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  for (let i = 0; i < total; i += step) {
    r += data[i * 4] ?? 0;
    g += data[i * 4 + 1] ?? 0;
    b += data[i * 4 + 2] ?? 0;
    n += 1;
  }
  return [r / n / 255, g / n / 255, b / n / 255];
}

function tintOf(key: string): [number, number, number] {
  const channel = (i: number): number => 0.2 + (Number.parseInt(key.slice(i * 2, i * 2 + 2), 16) / 255) * 0.8;
  return [channel(0), channel(1), channel(2)];
}

// ——— Accounts and concurrency ———

function account(key: string): { balance: number; frozen: number } {
  let found = accounts.get(key);
  if (!found) {
    found = { balance: tripoSandboxSettings.initialBalance, frozen: 0 };
    accounts.set(key, found);
  }
  return found;
}

const BUCKET_LIMITS: Record<Bucket, number> = { generation: 10, p1: 5, refine: 5 };

function pruneTasks(now: number): void {
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

function activeCount(key: string, bucket: Bucket, now: number): number {
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

// ——— Create ———

async function create(fields: Fields, key: string, signal: AbortSignal): Promise<Response> {
  const rawType = fields.type;
  if (rawType === undefined) throw invalid('type is required');
  if (typeof rawType !== 'string') throw invalid('type must be a string');
  const type = TASK_TYPES.find((candidate) => candidate === rawType);
  if (!type) {
    throw new TripoFailure(
      2002,
      OTHER_TYPES.includes(rawType)
        ? `The task type ${rawType} is not simulated by the sandbox.`
        : `The task type ${rawType} is unsupported.`,
    );
  }
  const extra = Object.keys(fields).filter((name) => !KNOWN_FIELDS[type].includes(name));
  if (extra.length > 0 && tripoSandboxSettings.extraFields === 'reject') {
    throw invalid(`Unknown parameter(s) for ${type}: ${extra.join(', ')}`);
  }
  const input = Object.fromEntries(
    Object.entries(fields).filter(([name]) => name !== 'type' && KNOWN_FIELDS[type].includes(name)),
  );

  const now = tripoSandboxSettings.now();
  let options: Options;
  let pictures: DecodedInput[] = [];
  let drawSeed: string;
  let tint: [number, number, number] | undefined;
  if (type === 'refine_model') {
    const draftId = fields.draft_model_task_id;
    if (draftId === undefined) throw invalid('draft_model_task_id is required');
    if (typeof draftId !== 'string' || draftId === '') throw invalid('draft_model_task_id must be a task id');
    const draft = tasks.get(draftId);
    if (!draft || draft.key !== key) {
      throw new TripoFailure(
        2001,
        'The draft model task does not exist or does not belong to the current user.',
      );
    }
    if (draft.type === 'refine_model' || !isDraftVersion(draft.modelVersion)) {
      throw new TripoFailure(
        2006,
        draft.type === 'refine_model'
          ? 'The task is not a draft task: a refined model cannot be refined again.'
          : `The task is not a draft task: models of ${draft.modelVersion} (>= v2.0) cannot be refined.`,
      );
    }
    if (!draft.finished || draft.outcome.status !== 'success') throw new TripoFailure(2007);
    options = { modelVersion: draft.modelVersion, textured: true, pbr: false, quad: false, cost: 30 };
    drawSeed = digest('refine', draft.drawKey);
    tint = draft.tint;
  } else {
    if (type === 'text_to_model') {
      if (fields.prompt === undefined) throw invalid('prompt is required');
      const prompt = optionalText(fields, 'prompt', 1024);
      if (prompt === undefined || prompt.trim() === '') throw invalid('prompt must not be empty');
      optionalText(fields, 'negative_prompt', 255);
    }
    options = commonOptions(fields, type);
    if (type === 'image_to_model') {
      if (fields.file === undefined) throw invalid('file is required');
      const picture = await resolveFile(fields.file, 'file', key, signal);
      if (!picture) throw new TripoFailure(2003, 'file names no file_token, url or object');
      pictures = [picture];
    } else if (type === 'multiview_to_model') {
      pictures = await multiviewPictures(fields, key, signal);
    }
    const inputKey = pictures.map((picture) => digest(picture.bytes)).join(',');
    drawSeed = digest(type, JSON.stringify(input), inputKey);
    const first = pictures[0];
    if (first) tint = averageColour(first);
  }

  pruneTasks(now);
  const bucket: Bucket =
    type === 'refine_model' ? 'refine' : options.modelVersion.startsWith('P1') ? 'p1' : 'generation';
  if (activeCount(key, bucket, now) >= BUCKET_LIMITS[bucket]) throw new TripoFailure(2000);
  const wallet = account(key);
  if (wallet.balance < options.cost) {
    throw new TripoFailure(2010, `You need ${options.cost} credits; the balance is ${wallet.balance}.`);
  }
  const effect = queuedEffects.shift();
  if (effect?.kind === 'moderated') throw new TripoFailure(2008);

  wallet.balance -= options.cost;
  wallet.frozen += options.cost;
  const id = newId('uuid');
  tasks.set(id, {
    id,
    key,
    type,
    modelVersion: options.modelVersion,
    bucket,
    createdAt: now,
    queuedPolls: tripoSandboxSettings.queuedPolls,
    runningPolls: tripoSandboxSettings.runningPolls,
    polls: 0,
    outcome: effect?.kind === 'outcome' ? effect.outcome : { status: 'success' },
    input,
    textured: options.textured,
    pbr: options.pbr,
    quad: options.quad,
    cost: options.cost,
    drawKey: drawSeed,
    tint: tint ?? tintOf(drawSeed),
    picture: pictures[0],
    lastProgress: 0,
    finished: false,
  });
  return jsonResponse(200, { code: 0, data: { task_id: id } });
}

/** `files` = [front, left, back, right], `{}` for a missing view; front and one more required. */
async function multiviewPictures(fields: Fields, key: string, signal: AbortSignal): Promise<DecodedInput[]> {
  if (fields.original_task_id !== undefined) {
    if (fields.files !== undefined) throw invalid('files and original_task_id are mutually exclusive');
    if (typeof fields.original_task_id !== 'string') throw invalid('original_task_id must be a task id');
    const original = tasks.get(fields.original_task_id);
    if (!original || original.key !== key) throw new TripoFailure(2001);
    // Only generate_multiview_image / edit_multiview_image tasks qualify, and none is simulated.
    throw new TripoFailure(2006, 'original_task_id must be a multiview image task');
  }
  const files = fields.files;
  if (files === undefined) throw invalid('files is required');
  if (!Array.isArray(files) || files.length !== 4) {
    throw invalid('files must be a list of exactly 4 items in the order [front, left, back, right]');
  }
  const views = ['front', 'left', 'back', 'right'];
  const pictures: DecodedInput[] = [];
  for (const [index, entry] of files.entries()) {
    const picture = await resolveFile(entry, `files[${index}] (${views[index] ?? '?'})`, key, signal);
    if (index === 0 && !picture) throw invalid('files[0] (front) must not be omitted');
    if (picture) pictures.push(picture);
  }
  if (pictures.length < 2) throw invalid('files must contain at least 2 images');
  return pictures;
}

// ——— Poll ———

/** The poll index after which the task reports its terminal status. */
function terminalAfter(task: Task): number {
  switch (task.outcome.status) {
    case 'expired':
    case 'cancelled':
      return task.queuedPolls;
    case 'failed':
    case 'unknown':
      return task.queuedPolls + Math.ceil(task.runningPolls / 2);
    default:
      return task.queuedPolls + task.runningPolls;
  }
}

function runningProgress(task: Task, step: number): number {
  if (step >= task.runningPolls) return 99;
  return Math.max(1, Math.round((step / task.runningPolls) * 95));
}

async function poll(task: Task, context: SandboxContext): Promise<Response> {
  const end = terminalAfter(task);
  if (!task.finished) task.polls += 1;
  const base = {
    task_id: task.id,
    type: task.type,
    input: task.input,
    create_time: Math.floor(task.createdAt / 1000),
  };
  const untilDone = (task.queuedPolls + task.runningPolls - task.polls + 1) * SECONDS_PER_POLL;

  if (!task.finished && task.polls <= end) {
    if (task.polls <= task.queuedPolls) {
      return jsonResponse(200, {
        code: 0,
        data: {
          ...base,
          status: 'queued',
          output: {},
          progress: 0,
          consumed_credit: 0,
          queuing_num: task.queuedPolls - task.polls,
          running_left_time: untilDone,
        },
      });
    }
    task.lastProgress = runningProgress(task, task.polls - task.queuedPolls);
    return jsonResponse(200, {
      code: 0,
      data: {
        ...base,
        status: 'running',
        output: {},
        progress: task.lastProgress,
        consumed_credit: 0,
        queuing_num: -1,
        running_left_time: Math.max(1, untilDone),
      },
    });
  }

  if (!task.finished) await finish(task);
  const { outcome } = task;
  const data: Record<string, unknown> = {
    ...base,
    status: outcome.status,
    output: outcome.status === 'success' ? issueOutput(task, context) : {},
    progress: outcome.status === 'success' ? 100 : task.lastProgress,
    consumed_credit: outcome.status === 'success' ? task.cost : 0,
    queuing_num: -1,
    running_left_time: -1,
  };
  if (outcome.errorCode !== undefined) data.error_code = outcome.errorCode;
  if (outcome.errorMsg !== undefined) data.error_msg = outcome.errorMsg;
  return jsonResponse(200, { code: 0, data });
}

/** Settles the credits and, on success, makes the result files. */
async function finish(task: Task): Promise<void> {
  task.finished = true;
  const wallet = account(task.key);
  wallet.frozen -= task.cost;
  if (task.outcome.status !== 'success') {
    wallet.balance += task.cost;
  } else {
    const files = new Map<FileName, StoredFile>();
    const texture = task.textured ? await textureFor(task) : undefined;
    const model = (variant: MeshVariant): StoredFile =>
      task.quad
        ? { bytes: pyramidFbx(task.drawKey, variant), ext: 'fbx', contentType: 'application/octet-stream' }
        : { bytes: pyramidGlb(task.drawKey, variant), ext: 'glb', contentType: 'model/gltf-binary' };
    files.set('model', model({ colour: task.tint, texture, pbr: false }));
    if (task.pbr) files.set('pbr_model', model({ colour: task.tint, texture, pbr: true }));
    files.set('base_model', model({ colour: [0.8, 0.8, 0.8], pbr: false }));
    const render = await paint({
      seed: digest('render', task.drawKey),
      width: tripoSandboxSettings.renderSize,
      height: tripoSandboxSettings.renderSize,
      input: task.picture,
    });
    files.set('rendered_image', {
      bytes: await encodePicture(render, 'png'),
      ext: 'png',
      contentType: 'image/png',
    });
    task.files = files;
  }
  // The decoded input is no longer needed once the task has ended.
  task.picture = undefined;
}

async function textureFor(task: Task): Promise<Buffer> {
  const picture = await paint({
    seed: digest('texture', task.drawKey),
    width: 64,
    height: 64,
    input: task.picture,
  });
  return encodePicture(picture, 'png');
}

/** Fresh links to every result file, valid for five minutes from now. */
function issueOutput(task: Task, context: SandboxContext): Record<string, string> {
  const output: Record<string, string> = {};
  const expiresAt = tripoSandboxSettings.now() + URL_TTL_MS;
  for (const [name, file] of task.files ?? []) {
    const id = newId('hex');
    issuedFiles.set(id, { taskId: task.id, name, expiresAt });
    output[name] =
      `${context.baseUrl}${FILES_PREFIX}${id}/${name}.${file.ext}?Expires=${Math.floor(expiresAt / 1000)}`;
  }
  return output;
}

// ——— Downloads ———

function storageError(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, headers: { 'content-type': 'application/xml' } },
  );
}

function download(request: Request, path: string): Response {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return storageError(
      405,
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
    );
  }
  const match = /^([0-9a-f]+)\/([a-z_]+)\.(glb|fbx|png)$/.exec(path.slice(FILES_PREFIX.length));
  const issued = match ? issuedFiles.get(match[1] ?? '') : undefined;
  const file = issued ? tasks.get(issued.taskId)?.files?.get(issued.name) : undefined;
  if (!match || !issued || !file || issued.name !== match[2] || file.ext !== match[3]) {
    return storageError(404, 'NoSuchKey', 'The specified key does not exist.');
  }
  if (tripoSandboxSettings.now() > issued.expiresAt) {
    return storageError(403, 'AccessDenied', 'Request has expired');
  }
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.bytes), {
    status: 200,
    headers: { 'content-type': file.contentType, 'content-length': String(file.bytes.length) },
  });
}

// ——— Upload and balance ———

async function upload(files: Map<string, File[]>, contentType: string, key: string): Promise<Response> {
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    throw new TripoFailure(1003, 'The upload must be multipart/form-data with a file field');
  }
  const file = files.get('file')?.[0];
  if (!file) throw new TripoFailure(2003, 'The multipart field file is missing');
  const bytes = Buffer.from(await file.arrayBuffer());
  await checkImage(bytes, 'file', true);
  const token = newId('uuid');
  uploads.set(token, { key, bytes, createdAt: tripoSandboxSettings.now() });
  return jsonResponse(200, { code: 0, data: { image_token: token } });
}

// ——— Result meshes ———

interface MeshVariant {
  colour: [number, number, number];
  /** PNG used as the base-colour texture (textured models). */
  texture?: Buffer | undefined;
  /** A metallic/roughness material, as the PBR model has. */
  pbr: boolean;
}

/** A square pyramid whose height comes from the task, flat-shaded, with UVs for the texture. */
function pyramid(key: string): { positions: number[]; normals: number[]; uvs: number[]; height: number } {
  const height = 0.6 + (Number.parseInt(key.slice(6, 8), 16) / 255) * 0.8;
  const h = 0.5;
  const corners: [number, number][] = [
    [-h, h],
    [h, h],
    [h, -h],
    [-h, -h],
  ];
  type Vec3 = [number, number, number];
  const apex: Vec3 = [0, height, 0];
  const triangles: [Vec3, Vec3, Vec3][] = [];
  for (let i = 0; i < 4; i++) {
    const [ax, az] = corners[i] ?? [0, 0];
    const [bx, bz] = corners[(i + 1) % 4] ?? [0, 0];
    triangles.push([[ax, 0, az], [bx, 0, bz], apex]);
  }
  const at = (i: number): Vec3 => {
    const [x, z] = corners[i] ?? [0, 0];
    return [x, 0, z];
  };
  // The base faces down: counter-clockwise when seen from below.
  triangles.push([at(0), at(3), at(2)], [at(0), at(2), at(1)]);
  const positions: number[] = [];
  const normals: number[] = [];
  const uvs: number[] = [];
  for (const [index, [a, b, c]] of triangles.entries()) {
    const u: Vec3 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const v: Vec3 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    const n: Vec3 = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    const length = Math.hypot(...n) || 1;
    for (const vertex of [a, b, c]) {
      positions.push(...vertex);
      normals.push(n[0] / length, n[1] / length, n[2] / length);
    }
    if (index < 4) uvs.push(0, 1, 1, 1, 0.5, 0);
    else for (const vertex of [a, b, c]) uvs.push(vertex[0] + 0.5, vertex[2] + 0.5);
  }
  return { positions, normals, uvs, height };
}

/** A valid glTF-binary pyramid; textured variants embed the PNG, the PBR one is metallic. */
export function pyramidGlb(key: string, variant: MeshVariant): Buffer {
  const { positions, normals, uvs, height } = pyramid(key);
  const count = positions.length / 3;
  const chunks: Buffer[] = [];
  const views: { buffer: 0; byteOffset: number; byteLength: number; target?: number }[] = [];
  let offset = 0;
  const addView = (bytes: Buffer, target?: number): number => {
    const view: (typeof views)[number] = { buffer: 0, byteOffset: offset, byteLength: bytes.length };
    if (target !== undefined) view.target = target;
    views.push(view);
    const padded = Buffer.alloc(Math.ceil(bytes.length / 4) * 4);
    bytes.copy(padded);
    chunks.push(padded);
    offset += padded.length;
    return views.length - 1;
  };
  const floats = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);
  const indices = Buffer.from(new Uint16Array(Array.from({ length: count }, (_, i) => i)).buffer);
  const positionView = addView(floats(positions), 34962);
  const normalView = addView(floats(normals), 34962);
  const uvView = addView(floats(uvs), 34962);
  const indexView = addView(indices, 34963);
  const imageView = variant.texture ? addView(variant.texture) : undefined;
  const bin = Buffer.concat(chunks);

  const material: Record<string, unknown> = {
    name: variant.pbr ? 'pbr' : 'base',
    pbrMetallicRoughness: {
      baseColorFactor: variant.texture ? [1, 1, 1, 1] : [...variant.colour, 1],
      metallicFactor: variant.pbr ? 0.4 : 0,
      roughnessFactor: variant.pbr ? 0.5 : 1,
      ...(imageView === undefined ? {} : { baseColorTexture: { index: 0 } }),
    },
  };
  const gltf: Record<string, unknown> = {
    asset: { version: '2.0', generator: 'MakeIt3D Tripo sandbox', extras: { task: key.slice(0, 16) } },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [
      {
        primitives: [{ attributes: { POSITION: 0, NORMAL: 1, TEXCOORD_0: 2 }, indices: 3, material: 0 }],
      },
    ],
    materials: [material],
    buffers: [{ byteLength: bin.length }],
    bufferViews: views,
    accessors: [
      {
        bufferView: positionView,
        componentType: 5126,
        count,
        type: 'VEC3',
        min: [-0.5, 0, -0.5],
        // The bounds must equal the stored float32 values exactly.
        max: [0.5, Math.fround(height), 0.5],
      },
      { bufferView: normalView, componentType: 5126, count, type: 'VEC3' },
      { bufferView: uvView, componentType: 5126, count, type: 'VEC2' },
      { bufferView: indexView, componentType: 5123, count, type: 'SCALAR' },
    ],
  };
  if (imageView !== undefined) {
    gltf.images = [{ bufferView: imageView, mimeType: 'image/png' }];
    gltf.samplers = [{ magFilter: 9729, minFilter: 9987 }];
    gltf.textures = [{ source: 0, sampler: 0 }];
  }
  return glbContainer(gltf, bin);
}

/**
 * The same pyramid as an ASCII FBX 7.4 file (what `quad: true` makes Tripo return): four
 * triangular sides and a quad base. Textures are not embedded; the material carries the colour.
 */
export function pyramidFbx(key: string, variant: MeshVariant): Buffer {
  const height = 0.6 + (Number.parseInt(key.slice(6, 8), 16) / 255) * 0.8;
  // FBX scenes are in centimetres (UnitScaleFactor 1); Tripo models are about a metre tall.
  const vertices = [-50, 0, 50, 50, 0, 50, 50, 0, -50, -50, 0, -50, 0, height * 100, 0];
  const polygons = [0, 1, -5, 1, 2, -5, 2, 3, -5, 3, 0, -5, 0, 3, 2, -2];
  const [r, g, b] = variant.colour.map((value) => value.toFixed(4));
  const text = `; FBX 7.4.0 project file
; Created by the MakeIt3D Tripo sandbox (${key.slice(0, 16)})
; ----------------------------------------------------

FBXHeaderExtension:  {
	FBXHeaderVersion: 1003
	FBXVersion: 7400
	Creator: "MakeIt3D Tripo sandbox"
}
GlobalSettings:  {
	Version: 1000
	Properties70:  {
		P: "UpAxis", "int", "Integer", "",1
		P: "UpAxisSign", "int", "Integer", "",1
		P: "FrontAxis", "int", "Integer", "",2
		P: "FrontAxisSign", "int", "Integer", "",1
		P: "CoordAxis", "int", "Integer", "",0
		P: "CoordAxisSign", "int", "Integer", "",1
		P: "UnitScaleFactor", "double", "Number", "",1
	}
}
Definitions:  {
	Version: 100
	Count: 3
	ObjectType: "Model" {
		Count: 1
	}
	ObjectType: "Geometry" {
		Count: 1
	}
	ObjectType: "Material" {
		Count: 1
	}
}
Objects:  {
	Geometry: 1000, "Geometry::pyramid", "Mesh" {
		Vertices: *${vertices.length} {
			a: ${vertices.map((value) => value.toFixed(3)).join(',')}
		}
		PolygonVertexIndex: *${polygons.length} {
			a: ${polygons.join(',')}
		}
		GeometryVersion: 124
		Layer: 0 {
			Version: 100
		}
	}
	Model: 2000, "Model::pyramid", "Mesh" {
		Version: 232
		Properties70:  {
		}
		Shading: T
		Culling: "CullingOff"
	}
	Material: 3000, "Material::${variant.pbr ? 'pbr' : 'base'}", "" {
		Version: 102
		ShadingModel: "phong"
		MultiLayer: 0
		Properties70:  {
			P: "DiffuseColor", "Color", "", "A",${r},${g},${b}
		}
	}
}
Connections:  {
	C: "OO",2000,0
	C: "OO",1000,2000
	C: "OO",3000,2000
}
`;
  return Buffer.from(text, 'utf8');
}

// ——— Routing ———

function parseKey(request: Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  const key = match?.[1];
  if (key === undefined) return undefined;
  return key.startsWith('tsk_') || key === PLACEHOLDER_KEY ? key : undefined;
}

type Route = 'create' | 'poll' | 'upload' | 'balance';

function routeOf(method: string, path: string): Route | 'method' | undefined {
  const expect = (route: Route, wanted: string): Route | 'method' => (method === wanted ? route : 'method');
  if (path === `${API}/task`) return expect('create', 'POST');
  if (/^\/v2\/openapi\/task\/[^/]+$/.test(path)) return expect('poll', 'GET');
  if (path === `${API}/upload` || path === `${API}/upload/sts`) return expect('upload', 'POST');
  if (path === `${API}/user/balance`) return expect('balance', 'GET');
  return undefined;
}

async function serve(request: Request, path: string, context: SandboxContext): Promise<Response> {
  const raw = request.method === 'POST' ? Buffer.from(await request.arrayBuffer()) : undefined;
  const copy = new Request(request.url, {
    method: request.method,
    headers: request.headers,
    ...(raw ? { body: raw } : {}),
  });
  const body = await readBody(copy, path);
  context.record(body.recorded);

  if (path.startsWith(FILES_PREFIX)) return download(request, path);
  const route = routeOf(request.method, path);
  if (route === undefined) {
    return jsonResponse(404, {
      code: 1004,
      message: `No route for ${request.method} ${path}`,
      suggestion: 'Check the path against the Tripo v2 documentation.',
    });
  }
  if (route === 'method') {
    return jsonResponse(405, {
      code: 1004,
      message: `Method ${request.method} is not allowed for ${path}`,
      suggestion: 'Check the method against the Tripo v2 documentation.',
    });
  }

  const key = parseKey(request);
  if (key === undefined) return tripoError(1002);

  const fault = context.takeFault();
  if (fault?.timeout) return context.hang(request.signal);
  if (fault?.status !== undefined) return faultResponse({ ...fault, status: fault.status });
  if (fault?.outcome !== undefined)
    queuedEffects.push({ kind: 'outcome', outcome: toOutcome(fault.outcome) });
  else if (fault?.moderated) queuedEffects.push({ kind: 'moderated' });

  try {
    switch (route) {
      case 'balance': {
        const wallet = account(key);
        return jsonResponse(200, { code: 0, data: { balance: wallet.balance, frozen: wallet.frozen } });
      }
      case 'upload':
        if (body.malformed !== undefined) throw new TripoFailure(1003, 'Malformed multipart body');
        return await upload(body.files, body.recorded.contentType, key);
      case 'poll': {
        const id = decodeURIComponent(path.slice(`${API}/task/`.length));
        const task = tasks.get(id);
        if (!task || task.key !== key) throw new TripoFailure(2001);
        return await poll(task, context);
      }
      case 'create': {
        const type = body.recorded.contentType.toLowerCase();
        if (
          (raw?.length ?? 0) === 0 ||
          body.jsonError !== undefined ||
          body.malformed !== undefined ||
          type.startsWith('multipart/') ||
          type.startsWith('application/x-www-form-urlencoded')
        ) {
          throw new TripoFailure(1003, body.jsonError ?? 'The request body must be a JSON object');
        }
        return await create(body.recorded.fields, key, request.signal);
      }
    }
  } catch (error) {
    if (error instanceof TripoFailure) return tripoError(error.code, { detail: error.message });
    throw error;
  }
}

export const tripoSimulator: SandboxSimulator = {
  provider: 'tripo',
  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    const response = await serve(request, path, context);
    // Tripo tags every answer so that support can find the request.
    response.headers.set('X-Tripo-Trace-ID', randomUUID());
    return response;
  },
};

import { z } from 'zod';
import { getConfig } from '../../config.ts';
import {
  InputInvalidError,
  JobDeadlineExceededError,
  ProviderRejectedError,
  ProviderUnavailableError,
} from '../../errors.ts';
import { readImageSize, webImageKind } from '../../images/formats.ts';
import { logger } from '../../logger.ts';
import {
  allowedAssetPrefixes,
  assetUrlField,
  booleanField,
  intRange,
  oneOf,
  taskIdField,
  text,
} from '../../operations/fields.ts';
import type {
  AsyncProviderOperation,
  PollOutcome,
  ProviderOperation,
  ProviderRunContext,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { taskRepository } from '../../tasks/task-repository.ts';
import { downloadProviderFile } from '../http-client.ts';
import { moderatedError } from '../provider-errors.ts';
import { TRIPO_LABEL, type TripoConnection, tripoConnection, tripoRequest } from './client.ts';

/**
 * Tripo v2 (provider-contracts.md §6): text-to-model, image-to-model (one view, or up to four as
 * multiview) and refine-model. Each creates a Tripo task once; the state machine's Wait →
 * PollProviderJob → Choice loop then reads it until a finalized status. Result URLs expire in
 * minutes, so a `success` poll downloads the GLB at once.
 *
 * Only the fields Tripo documents for the task's `type` are sent, and only those the client set
 * (§8 items 18–20): Tripo's own defaults apply otherwise.
 */

/** §6.2's list. v1.4 stays: it is the only line whose drafts `refine_model` accepts. */
const MODEL_VERSIONS = [
  'v2.5-20250123',
  'v2.0-20240919',
  'v3.0-20250812',
  'v3.1-20260211',
  'P1-20260311',
  'Turbo-v1.0-20250506',
  'v1.4-20240625',
] as const;
/** What Tripo uses when `model_version` is not sent. */
const DEFAULT_MODEL_VERSION = 'v2.5-20250123';
const H3_VERSIONS: readonly string[] = ['v3.0-20250812', 'v3.1-20260211'];
const TEXTURE_QUALITIES = ['standard', 'detailed', 'extreme'] as const;
const GEOMETRY_QUALITIES = ['standard', 'detailed'] as const;
const ORIENTATIONS = ['default', 'align_image'] as const;
const TEXTURE_ALIGNMENTS = ['original_image', 'geometry'] as const;
const VIEWS = ['front', 'left', 'back', 'right'] as const;

const MAX_PROMPT_CHARACTERS = 1024;
const MAX_NEGATIVE_PROMPT_CHARACTERS = 255;
/** H2 models take up to 500,000 faces; the smart-low-poly and P1 ranges are checked below. */
const MAX_FACE_LIMIT = 500_000;
const LOW_POLY_FACES = { min: 1000, max: 20_000 };
const P1_FACES = { min: 48, max: 20_000 };
/** Tripo documents seeds as integers without a bound; a 32-bit one is what every client sends. */
const MAX_SEED = 2_147_483_647;
/** Tripo's image limits (§6.2): 20–6000 px per side. */
const MIN_IMAGE_SIDE = 20;
const MAX_IMAGE_SIDE = 6000;

/**
 * Generation runs up to ~10 minutes with detailed textures, and an account's tasks queue behind
 * its 10 concurrent slots (§6.3, §6.6). 30 minutes covers a long run plus two queued batches
 * ahead of it; past that the task is stuck, not slow. At the 30 s poll ceiling that is ~60–100
 * polls, far inside Step Functions' history limit.
 */
const GENERATION_DEADLINE_SECONDS = 30 * 60;
/** Refine takes ~2 minutes plus queue in a 5-slot bucket: 20 minutes is ten times its run. */
const REFINE_DEADLINE_SECONDS = 20 * 60;
/** Tripo's SDK polls no sooner than every 2 s; beyond 30 s progress would look frozen. */
const MIN_WAIT_SECONDS = 2;
const MAX_WAIT_SECONDS = 30;
/** A poll is a small GET: without its own limit it would wait PROVIDER_TIMEOUT_SECONDS (the ASL's step timeout). */
const POLL_TIMEOUT_SECONDS = 30;

// ---------------------------------------------------------------------------------------------------
// Request schemas

const seedField = intRange(0, MAX_SEED);
const promptField = text(MAX_PROMPT_CHARACTERS).refine((value) => !/\p{Extended_Pictographic}/u.test(value), {
  error: 'must not contain emoji (Tripo rejects them)',
});

/**
 * The guide's `style: "realistic"` is the only style accepted: Tripo v2 documents no `style`, and
 * "realistic" means no stylisation, so nothing is sent (contract §3) and the metadata says so.
 */
const styleField = z.literal('realistic', {
  error: 'must be "realistic" (Tripo v2 offers no other style; it means no stylisation)',
});

/** Options every Tripo generation type takes (§6.2 "common generation parameters"). */
const generationOptions = {
  model_version: oneOf(MODEL_VERSIONS).optional(),
  model_seed: seedField.optional(),
  texture_seed: seedField.optional(),
  texture: booleanField.optional(),
  pbr: booleanField.optional(),
  texture_quality: oneOf(TEXTURE_QUALITIES).optional(),
  geometry_quality: oneOf(GEOMETRY_QUALITIES).optional(),
  face_limit: intRange(1, MAX_FACE_LIMIT).optional(),
  auto_size: booleanField.optional(),
  smart_low_poly: booleanField.optional(),
  generate_parts: booleanField.optional(),
  export_uv: booleanField.optional(),
  style: styleField.optional(),
};
/** The Tripo field names of `generationOptions` (all but `style`, which is never sent). */
const GENERATION_KEYS = [
  'model_version',
  'model_seed',
  'texture_seed',
  'texture',
  'pbr',
  'texture_quality',
  'geometry_quality',
  'face_limit',
  'auto_size',
  'smart_low_poly',
  'generate_parts',
  'export_uv',
] as const;

interface GenerationOptions {
  model_version?: string | undefined;
  texture?: boolean | undefined;
  pbr?: boolean | undefined;
  texture_quality?: string | undefined;
  geometry_quality?: string | undefined;
  face_limit?: number | undefined;
  smart_low_poly?: boolean | undefined;
  generate_parts?: boolean | undefined;
  orientation?: string | undefined;
}

/** Combinations Tripo refuses (§6.2), as 400s naming the field, before anything is billed. */
function checkCombinations(value: GenerationOptions, context: z.RefinementCtx): void {
  const issue = (field: string, message: string) =>
    context.addIssue({ code: 'custom', path: [field], message });
  const untextured = value.texture === false && value.pbr === false;
  if (value.texture_quality === 'standard' && untextured) {
    issue(
      'texture_quality',
      'cannot be "standard" when texture and pbr are both false (Tripo rejects it); omit it',
    );
  }
  // Tripo's texture and pbr default to true, so parts need both switched off explicitly.
  if (value.generate_parts === true && !untextured) {
    issue(
      'generate_parts',
      'requires texture: false and pbr: false (Tripo cannot texture a model split into parts)',
    );
  }
  if (value.orientation === 'align_image' && (value.texture === false || untextured)) {
    issue('orientation', '"align_image" requires texture: true (Tripo aligns the textured model)');
  }
  const version = value.model_version ?? DEFAULT_MODEL_VERSION;
  if (value.geometry_quality !== undefined && !H3_VERSIONS.includes(version)) {
    issue('geometry_quality', `requires model_version ${H3_VERSIONS.join(' or ')}`);
  }
  const faces = value.face_limit;
  if (faces === undefined) return;
  if (value.smart_low_poly === true && (faces < LOW_POLY_FACES.min || faces > LOW_POLY_FACES.max)) {
    issue(
      'face_limit',
      `must be between ${LOW_POLY_FACES.min} and ${LOW_POLY_FACES.max} with smart_low_poly (Tripo's range)`,
    );
  }
  if (version.startsWith('P1-') && (faces < P1_FACES.min || faces > P1_FACES.max)) {
    issue('face_limit', `must be between ${P1_FACES.min} and ${P1_FACES.max} with model_version ${version}`);
  }
}

const TextToModelSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('tripo'),
    prompt: promptField,
    negative_prompt: text(MAX_NEGATIVE_PROMPT_CHARACTERS).optional(),
    image_seed: seedField.optional(),
    ...generationOptions,
  })
  .superRefine(checkCombinations);
type TextToModelRequest = z.infer<typeof TextToModelSchema>;

const imageUrlsMessage = 'must be a list of 1 to 4 image URLs: front, then left, back, right';
const ImageToModelSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('tripo'),
    /** Front first; a missing left or back view may be null so the later views keep their place. */
    input_image_asset_urls: z
      .array(assetUrlField.nullable(), { error: imageUrlsMessage })
      .min(1, { error: imageUrlsMessage })
      .max(4, { error: imageUrlsMessage })
      .superRefine((urls, context) => {
        if (urls[0] === null) {
          context.addIssue({ code: 'custom', path: [0], message: 'must be the front view: it is required' });
        }
      }),
    /** Accepted because the guide's example has one; Tripo's image tasks take no prompt (§8 item 19). */
    prompt: text(MAX_PROMPT_CHARACTERS).optional(),
    texture_alignment: oneOf(TEXTURE_ALIGNMENTS).optional(),
    orientation: oneOf(ORIENTATIONS).optional(),
    enable_image_autofix: booleanField.optional(),
    ...generationOptions,
  })
  .superRefine(checkCombinations);
type ImageToModelRequest = z.infer<typeof ImageToModelSchema>;
const IMAGE_KEYS = [...GENERATION_KEYS, 'texture_alignment', 'orientation', 'enable_image_autofix'] as const;

/** `<tenant>/<client task>/<job id>/<index>.glb`: where this service stores a model it made. */
const PRODUCED_MODEL_PATH = /^[^/]+\/[^/]+\/([^/]+)\/\d+\.glb$/;

/** The bucket path of a storage URL of this project, or undefined. */
function storagePath(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const bare = `${parsed.origin}${parsed.pathname}`;
  const prefix = allowedAssetPrefixes().find((candidate) => bare.startsWith(candidate));
  if (!prefix) return undefined;
  const [bucket, ...rest] = bare.slice(prefix.length).split('/');
  if (bucket !== getConfig().SUPABASE_BUCKET) return undefined;
  try {
    return rest.map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

/** The job id of a model this service produced, read from its storage URL. */
function producedModel(url: string): { path: string; jobId: string } | undefined {
  const path = storagePath(url);
  const jobId = path === undefined ? undefined : PRODUCED_MODEL_PATH.exec(path)?.[1];
  return path !== undefined && jobId !== undefined ? { path, jobId } : undefined;
}

const RefineModelSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('tripo'),
    input_model_asset_url: assetUrlField,
    draft_model_task_id: z
      .string({ error: 'must be a Tripo task id' })
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, {
        error: 'must be a Tripo task id (1-128 characters of A-Z a-z 0-9 . _ : -)',
      })
      .optional(),
    // The guide's refinement fields are checked like the generation ones, but refine_model takes
    // only the draft's task id (§8 item 20): they are recorded as not sent.
    prompt: text(MAX_PROMPT_CHARACTERS).optional(),
    texture: booleanField.optional(),
    pbr: booleanField.optional(),
    texture_quality: oneOf(TEXTURE_QUALITIES).optional(),
    model_version: oneOf(MODEL_VERSIONS).optional(),
    face_limit: intRange(1, MAX_FACE_LIMIT).optional(),
    auto_size: booleanField.optional(),
  })
  .superRefine((value, context) => {
    if (value.draft_model_task_id !== undefined) return;
    // Without a draft id only a model this service made can be refined (its Tripo task is known).
    if (typeof value.input_model_asset_url === 'string' && !producedModel(value.input_model_asset_url)) {
      context.addIssue({
        code: 'custom',
        path: ['draft_model_task_id'],
        message:
          'is required unless input_model_asset_url is a GLB this service produced (…/<tenant>/<task>/<job>/<n>.glb)',
      });
    }
  });
type RefineModelRequest = z.infer<typeof RefineModelSchema>;

// ---------------------------------------------------------------------------------------------------
// Submit

/** Only the listed keys the client set, under the same names (they are Tripo's). */
function pick(request: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((key) => request[key] !== undefined).map((key) => [key, request[key]]),
  );
}

function notSent(request: { style?: string | undefined; prompt?: string | undefined }, promptSent: boolean) {
  return {
    ...(request.style !== undefined ? { style: 'realistic: not sent (no stylisation)' } : {}),
    ...(!promptSent && request.prompt !== undefined
      ? { prompt: 'not sent (Tripo takes no prompt for this task type)' }
      : {}),
  };
}

const CreatedSchema = z.object({ task_id: z.string().min(1) });

async function createTask(
  connection: TripoConnection,
  body: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<string> {
  const created = CreatedSchema.safeParse(
    await tripoRequest('/task', connection, { method: 'POST', body, signal }),
  );
  if (!created.success) {
    throw new ProviderRejectedError(`${TRIPO_LABEL} accepted the task but returned no task_id`);
  }
  return created.data.task_id;
}

/** What travels in the execution between polls. */
const JobStateSchema = z.object({ task_id: z.string().min(1), type: z.string().min(1) });

function submitted(taskId: string, type: string, sent: Record<string, unknown>) {
  return { providerJobId: taskId, state: { task_id: taskId, type }, sent: { tripo_type: type, ...sent } };
}

async function submitTextToModel(
  params: Record<string, unknown>,
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request: TextToModelRequest = TextToModelSchema.parse(params);
  const body = {
    type: 'text_to_model',
    ...pick(request, ['prompt', 'negative_prompt', 'image_seed', ...GENERATION_KEYS]),
  };
  const connection = await tripoConnection();
  const taskId = await createTask(connection, body, context.signal);
  return submitted(taskId, 'text_to_model', notSent(request, true));
}

/** Tripo's image rules (§6.2, §6.4): PNG, JPEG or WebP, 20–6000 px a side. */
function checkImage(input: FetchedInput): { extension: string; contentType: string } {
  const kind = webImageKind(input.bytes);
  if (!kind) throw new InputInvalidError(`${input.field} must be a PNG, JPEG or WebP image for Tripo`);
  const size = readImageSize(input.bytes, kind.format);
  if (!size)
    throw new InputInvalidError(`${input.field} is not a readable ${kind.format.toUpperCase()} image`);
  const sides = [size.width, size.height];
  if (sides.some((side) => side < MIN_IMAGE_SIDE || side > MAX_IMAGE_SIDE)) {
    throw new InputInvalidError(
      `${input.field} is ${size.width} x ${size.height}; Tripo needs each side between ${MIN_IMAGE_SIDE} and ${MAX_IMAGE_SIDE} pixels`,
    );
  }
  return kind;
}

const UploadedSchema = z.object({ image_token: z.string().min(1) });

/**
 * Sends an image to Tripo and answers the file object that references it. Uploaded rather than
 * passed by URL: the BFF's bucket may be private or on the local stack, out of Tripo's reach.
 */
async function uploadImage(
  connection: TripoConnection,
  input: FetchedInput,
  view: string,
  signal: AbortSignal | undefined,
): Promise<{ type: string; file_token: string }> {
  const kind = checkImage(input);
  const form = new FormData();
  form.append(
    'file',
    new Blob([new Uint8Array(input.bytes)], { type: kind.contentType }),
    `${view}.${kind.extension}`,
  );
  const uploaded = UploadedSchema.safeParse(
    await tripoRequest('/upload', connection, { method: 'POST', body: form, signal }),
  );
  if (!uploaded.success) {
    throw new ProviderUnavailableError(
      `${TRIPO_LABEL} accepted an image upload but returned no image_token; retrying may help`,
    );
  }
  return { type: kind.extension, file_token: uploaded.data.image_token };
}

async function submitImageToModel(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request: ImageToModelRequest = ImageToModelSchema.parse(params);
  // fetchInputs names each entry by its index, so a null (missing) view keeps the others in place.
  const byView = VIEWS.map((_, index) =>
    inputs.find((input) => input.field === `input_image_asset_urls[${index}]`),
  );
  const present = byView.filter((input): input is FetchedInput => input !== undefined);
  if (!byView[0]) throw new InputInvalidError('input_image_asset_urls[0] (the front view) is required');
  // Every image is checked before any upload: one bad view must not leave the others half sent.
  for (const input of present) checkImage(input);
  const connection = await tripoConnection();
  const files = await Promise.all(
    byView.map((input, index) =>
      input ? uploadImage(connection, input, VIEWS[index] ?? 'view', context.signal) : Promise.resolve({}),
    ),
  );
  const options = pick(request, IMAGE_KEYS);
  const multiview = present.length > 1;
  const type = multiview ? 'multiview_to_model' : 'image_to_model';
  // Multiview takes exactly four slots in the order front, left, back, right; `{}` marks a gap.
  const body = multiview ? { type, files, ...options } : { type, file: files[0], ...options };
  const taskId = await createTask(connection, body, context.signal);
  return submitted(taskId, type, {
    views: VIEWS.filter((_, index) => byView[index] !== undefined),
    ...notSent(request, false),
  });
}

async function draftTaskId(request: RefineModelRequest, tenantId: string): Promise<string> {
  if (request.draft_model_task_id !== undefined) return request.draft_model_task_id;
  const produced = producedModel(request.input_model_asset_url);
  const unknown = () =>
    new InputInvalidError(
      'input_model_asset_url is not a model this service produced for this API key; send draft_model_task_id (the Tripo task id of the draft)',
    );
  if (!produced) throw unknown();
  const task = await taskRepository.get(tenantId, produced.jobId);
  if (task?.status !== 'complete' || !task.assets?.some((asset) => asset.path === produced.path)) {
    throw unknown();
  }
  if (task.provider !== 'tripo' || !task.ai_service_task_id) {
    throw new InputInvalidError(
      `input_model_asset_url was produced by ${task.provider}, not by Tripo; only a Tripo draft can be refined`,
    );
  }
  if (task.operation === 'refine-model') {
    throw new InputInvalidError('input_model_asset_url is already refined; Tripo refines a draft only once');
  }
  // Tripo refines only v1.x drafts (§6.2, §8 item 20): say so now rather than pass on its error 2006.
  const version =
    typeof task.params.model_version === 'string' ? task.params.model_version : DEFAULT_MODEL_VERSION;
  if (!version.startsWith('v1.')) {
    throw new InputInvalidError(
      `input_model_asset_url was made with model_version ${version}; Tripo refines only drafts made with v1.4-20240625`,
    );
  }
  return task.ai_service_task_id;
}

const REFINE_UNSENT_KEYS = [
  'prompt',
  'texture',
  'pbr',
  'texture_quality',
  'model_version',
  'face_limit',
  'auto_size',
];

async function submitRefineModel(
  params: Record<string, unknown>,
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request: RefineModelRequest = RefineModelSchema.parse(params);
  const draft = await draftTaskId(request, context.tenantId);
  const connection = await tripoConnection();
  // refine_model takes the draft's id and nothing else (§6.2).
  const taskId = await createTask(
    connection,
    { type: 'refine_model', draft_model_task_id: draft },
    context.signal,
  );
  const unsent = REFINE_UNSENT_KEYS.filter((key) => request[key as keyof RefineModelRequest] !== undefined);
  return submitted(taskId, 'refine_model', {
    draft_model_task_id: draft,
    draft_from: request.draft_model_task_id !== undefined ? 'request' : 'input_model_asset_url',
    ...(unsent.length > 0 ? { not_sent: unsent } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------
// Poll

/** A result URL: a string, or (in some Tripo answers) an object holding `url`. */
const OutputUrl = z
  .union([z.string(), z.object({ url: z.string() }).transform((value) => value.url)])
  .nullish()
  .catch(undefined);

const TaskSchema = z.object({
  task_id: z.string().optional(),
  status: z.string(),
  progress: z.number().nullish().catch(undefined),
  running_left_time: z.number().nullish().catch(undefined),
  error_code: z.union([z.number(), z.string()]).nullish().catch(undefined),
  error_msg: z.string().nullish().catch(undefined),
  consumed_credit: z.number().nullish().catch(undefined),
  // Undocumented keys may appear in output (§6.1); only these three are read.
  output: z
    .object({ pbr_model: OutputUrl, model: OutputUrl, base_model: OutputUrl })
    .nullish()
    .catch(undefined),
});
type TripoTask = z.infer<typeof TaskSchema>;

/** The main deliverable first: PBR when made, then the model, then the untextured base (§8 item 22). */
const RESULT_PRIORITY = ['pbr_model', 'model', 'base_model'] as const;

async function readTask(
  connection: TripoConnection,
  taskId: string,
  signal: AbortSignal | undefined,
): Promise<TripoTask> {
  const answer = TaskSchema.safeParse(
    await tripoRequest(`/task/${encodeURIComponent(taskId)}`, connection, {
      method: 'GET',
      signal,
      timeoutSeconds: POLL_TIMEOUT_SECONDS,
    }),
  );
  if (!answer.success) {
    // Polling has no side effects, so an unreadable answer is worth another attempt.
    throw new ProviderUnavailableError(
      `${TRIPO_LABEL} answered a poll with an unreadable task; retrying may help`,
    );
  }
  return answer.data;
}

function resultUrl(task: TripoTask): { kind: string; url: string } | undefined {
  for (const kind of RESULT_PRIORITY) {
    const url = task.output?.[kind];
    if (url) return { kind, url };
  }
  return undefined;
}

/**
 * Downloads the model at once. URLs live about five minutes (§6.3); if the first one cannot be
 * fetched (expired between poll and download), the task is read again for fresh URLs, once.
 */
async function downloadResult(
  connection: TripoConnection,
  state: z.infer<typeof JobStateSchema>,
  task: TripoTask,
  signal: AbortSignal | undefined,
): Promise<PollOutcome> {
  let current = task;
  for (let attempt = 1; ; attempt++) {
    const result = resultUrl(current);
    if (!result) {
      throw new ProviderRejectedError(
        `${TRIPO_LABEL} reported task ${state.task_id} as success without a model URL; submitting the request again may help`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await downloadProviderFile(TRIPO_LABEL, result.url, connection.baseUrl);
    } catch (error) {
      if (attempt >= 2 || !(error instanceof ProviderRejectedError)) throw error;
      logger.warn('Tripo result download failed; reading the task again for fresh URLs', {
        provider_job_id: state.task_id,
        error_message: error.message,
      });
      current = await readTask(connection, state.task_id, signal);
      continue;
    }
    if (sniffFileKind(bytes)?.extension !== 'glb') {
      throw new ProviderRejectedError(`${TRIPO_LABEL} returned a ${result.kind} that is not a GLB model`);
    }
    return {
      status: 'done',
      files: [{ bytes, contentType: 'model/gltf-binary', extension: 'glb' }],
      sent: {
        result: result.kind,
        ...(typeof current.consumed_credit === 'number' ? { consumed_credit: current.consumed_credit } : {}),
      },
    };
  }
}

function describeFailure(task: TripoTask): string {
  const parts = [`status "${task.status}"`];
  if (task.error_code !== undefined && task.error_code !== null) parts.push(`error_code ${task.error_code}`);
  if (task.error_msg) parts.push(task.error_msg.slice(0, 300));
  return parts.join(', ');
}

/** Tripo's own estimate guides the wait, as its SDK does; the state machine doubles otherwise. */
function waitSeconds(task: TripoTask): number | undefined {
  const left = task.running_left_time;
  if (typeof left !== 'number' || left <= 0) return undefined;
  return Math.min(MAX_WAIT_SECONDS, Math.max(MIN_WAIT_SECONDS, left / 2));
}

async function poll(rawState: Record<string, unknown>, context: ProviderRunContext): Promise<PollOutcome> {
  // The state was written by submit; a mismatch is a bug, not a provider answer.
  const state = JobStateSchema.parse(rawState);
  const connection = await tripoConnection();
  const task = await readTask(connection, state.task_id, context.signal);
  const which = `task ${state.task_id} (${describeFailure(task)})`;
  switch (task.status) {
    case 'queued':
    case 'running': {
      const wait = waitSeconds(task);
      return {
        status: 'pending',
        ...(typeof task.progress === 'number' ? { progress: Math.min(100, Math.max(0, task.progress)) } : {}),
        ...(wait !== undefined ? { waitSeconds: wait } : {}),
      };
    }
    case 'success':
      return downloadResult(connection, state, task, context.signal);
    case 'banned':
      throw moderatedError(TRIPO_LABEL, `${which}: the prompt or image violates Tripo's content policy`);
    case 'expired':
      throw new JobDeadlineExceededError(
        `${TRIPO_LABEL} ${which} timed out at Tripo before finishing; submitting the request again may help`,
      );
    case 'failed':
      throw new ProviderRejectedError(
        `${TRIPO_LABEL} failed to generate the model: ${which}; submitting the request again may help`,
      );
    case 'cancelled':
      throw new ProviderRejectedError(
        `${TRIPO_LABEL} cancelled ${which}; submitting the request again may help`,
      );
    case 'unknown':
      throw new ProviderRejectedError(
        `${TRIPO_LABEL} lost ${which} to a system problem on its side; submitting the request again may help`,
      );
    default:
      // A status Tripo added after this was written: keep polling; the deadline ends it.
      logger.warn('Unknown Tripo task status; polling again', {
        provider_job_id: state.task_id,
        tripo_status: task.status,
      });
      return { status: 'pending' };
  }
}

// ---------------------------------------------------------------------------------------------------
// Catalogue entries

const common = {
  provider: 'tripo',
  mode: 'async',
  resultKind: 'model',
  reportsProgress: true,
  poll,
} as const;

export const tripoTextToModel: AsyncProviderOperation = {
  ...common,
  schema: TextToModelSchema,
  inputFields: [],
  deadlineSeconds: GENERATION_DEADLINE_SECONDS,
  submit: (params, _inputs, context) => submitTextToModel(params, context),
};

export const tripoImageToModel: AsyncProviderOperation = {
  ...common,
  schema: ImageToModelSchema,
  inputFields: ['input_image_asset_urls'],
  deadlineSeconds: GENERATION_DEADLINE_SECONDS,
  submit: (params, inputs, context) => submitImageToModel(params, inputs, context),
};

export const tripoRefineModel: AsyncProviderOperation = {
  ...common,
  schema: RefineModelSchema,
  // The model is not downloaded: Tripo refines its own draft task, named by id.
  inputFields: [],
  deadlineSeconds: REFINE_DEADLINE_SECONDS,
  submit: (params, _inputs, context) => submitRefineModel(params, context),
};

export const tripoOperations: Record<string, ProviderOperation> = {
  'text-to-model': tripoTextToModel,
  'image-to-model': tripoImageToModel,
  'refine-model': tripoRefineModel,
};

import * as z from 'zod';
import { getConfig, providerModel } from '../../config.ts';
import {
  InputInvalidError,
  JobDeadlineExceededError,
  ProviderRejectedError,
  ProviderUnavailableError,
} from '../../errors.ts';
import { checkImageHeader } from '../../images/input-check.ts';
import { logger } from '../../logger.ts';
import { allowedAssetPrefixes } from '../../operations/fields.ts';
import type {
  AsyncProviderOperation,
  PollOutcome,
  ProviderOperation,
  ProviderRunContext,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import { type FetchedInput, fetchInput } from '../../storage/input-fetcher.ts';
import { taskRepository } from '../../tasks/task-repository.ts';
import { downloadProviderFile } from '../http-client.ts';
import { moderatedError } from '../provider-errors.ts';
import {
  TRIPO_LABEL,
  type TripoCallContext,
  type TripoConnection,
  tripoConnection,
  tripoRequest,
} from './client.ts';
import {
  GENERATION_KEYS,
  generationModelOf,
  IMAGE_KEYS,
  ImageToModelSchema,
  REFINE_KEYS,
  REFINE_UNSENT_KEYS,
  RefineModelSchema,
  TextToModelSchema,
  tripoRequests,
} from './requests.ts';
import { tripoGenerationPolling, tripoSettings, tripoTexturePolling } from './settings.ts';

/**
 * Tripo API v3 (docs/providers/tripo.md): text-to-model, image-to-model (one view →
 * `/generation/image-to-model`; two to four → `/generation/multiview-to-model`) and refine-model
 * (re-texturing through `/models/texture`, since Tripo retired refine on 2026-10-31). Each creates
 * a Tripo task once; the state machine's Wait → PollProviderJob → Choice loop then reads
 * `GET /tasks/{id}` until a final status. Result URLs expire in about five minutes, so a
 * `success` poll downloads the model at once.
 *
 * Only the fields Tripo documents for the endpoint are sent, and only those the client set, plus
 * `model`, which v3 requires: Tripo's own defaults apply otherwise.
 */

const VIEWS = ['front', 'left', 'back', 'right'] as const;

/**
 * Generation runs up to ~10 minutes with detailed textures, and an account's tasks queue behind
 * its 10 concurrent slots. 30 minutes covers a long run plus two queued batches ahead of it; past
 * that the task is stuck, not slow.
 */
const GENERATION_DEADLINE_SECONDS = 30 * 60;
/** Re-texturing runs in a 5-slot bucket and takes a few minutes: 20 minutes is several runs. */
const TEXTURE_DEADLINE_SECONDS = 20 * 60;
/** A poll is a small GET: without its own limit it would wait PROVIDER_TIMEOUT_SECONDS. */
const POLL_TIMEOUT_SECONDS = 30;

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
      ? { prompt: 'not sent (Tripo takes no prompt for image input)' }
      : {}),
  };
}

const CreatedSchema = z.object({ task_id: z.string().min(1) });

async function createTask(
  connection: TripoConnection,
  path: string,
  body: Record<string, unknown>,
  context: TripoCallContext & { signal: AbortSignal | undefined; run: ProviderRunContext },
): Promise<string> {
  const { run, ...call } = context;
  const send = () => tripoRequest(path, connection, { method: 'POST', body, creates: true, ...call });
  const created = CreatedSchema.safeParse(await (run.guardCreate ? run.guardCreate(send) : send()));
  if (!created.success) {
    throw new ProviderRejectedError(`${TRIPO_LABEL} accepted the task but returned no task_id`);
  }
  return created.data.task_id;
}

/** What travels in the execution between polls. */
const JobStateSchema = z.object({ task_id: z.string().min(1), endpoint: z.string().min(1) });

function submitted(taskId: string, endpoint: string, sent: Record<string, unknown>) {
  return {
    providerJobId: taskId,
    state: { task_id: taskId, endpoint },
    sent: { tripo_endpoint: endpoint, ...sent },
  };
}

function modelSent(model: { id: string; variable: string | undefined }) {
  return { model: model.id, model_from: model.variable ?? 'request model_version' };
}

async function submitTextToModel(
  params: Record<string, unknown>,
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request = TextToModelSchema.parse(params);
  const model = generationModelOf(request);
  const body = {
    prompt: request.prompt,
    model: model.id,
    ...pick(request, ['negative_prompt', 'image_seed', ...GENERATION_KEYS]),
  };
  const connection = await tripoConnection();
  const endpoint = '/generation/text-to-model';
  const taskId = await createTask(connection, endpoint, body, {
    model,
    signal: context.signal,
    run: context,
  });
  return submitted(taskId, endpoint, { ...modelSent(model), ...notSent(request, true) });
}

/**
 * Tripo's image rules (settings.ts `inputImages`): PNG, JPEG or WebP, 20–6000 px a side, at most
 * 20 MB, read from the header alone.
 */
function checkImage(input: FetchedInput): { extension: string; contentType: string } {
  return checkImageHeader(input, tripoSettings.inputImages['image-to-model']);
}

const UploadedSchema = z.object({ file_token: z.string().min(1) });

/**
 * Sends a file to Tripo (`POST /files`, multipart part `file`) and answers its `file_token`.
 * Uploaded rather than passed by URL: the BFF's bucket may be private or on the local stack,
 * out of Tripo's reach. Uploads cost no credit, so a failed one is simply retried.
 */
async function uploadFile(
  connection: TripoConnection,
  bytes: Buffer,
  filename: string,
  contentType: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), filename);
  const uploaded = UploadedSchema.safeParse(
    await tripoRequest('/files', connection, { method: 'POST', body: form, signal }),
  );
  if (!uploaded.success) {
    throw new ProviderUnavailableError(
      `${TRIPO_LABEL} accepted an upload but returned no file_token; retrying may help`,
    );
  }
  return uploaded.data.file_token;
}

async function submitImageToModel(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request = ImageToModelSchema.parse(params);
  const model = generationModelOf(request);
  // fetchInputs names each entry by its index, so a null (missing) view keeps the others in place.
  const byView = VIEWS.map((view, index) => ({
    view,
    input: inputs.find((input) => input.field === `input_image_asset_urls[${index}]`),
  }));
  const present = byView.filter(
    (entry): entry is { view: (typeof VIEWS)[number]; input: FetchedInput } => !!entry.input,
  );
  if (!byView[0]?.input)
    throw new InputInvalidError('input_image_asset_urls[0] (the front view) is required');
  // Every image is checked before any upload: one bad view must not leave the others half sent.
  const kinds = present.map(({ input }) => checkImage(input));
  const connection = await tripoConnection();
  const tokens = await Promise.all(
    present.map(({ view, input }, index) => {
      const kind = kinds[index] ?? { extension: 'png', contentType: 'image/png' };
      return uploadFile(
        connection,
        input.bytes,
        `${view}.${kind.extension}`,
        kind.contentType,
        context.signal,
      );
    }),
  );
  const options = { model: model.id, ...pick(request, IMAGE_KEYS) };
  // One image is image-to-model; two to four are multiview, view-keyed, front first, gaps left out.
  const multiview = present.length > 1;
  const endpoint = multiview ? '/generation/multiview-to-model' : '/generation/image-to-model';
  const body = multiview
    ? { inputs: present.map(({ view }, index) => ({ [view]: tokens[index] })), ...options }
    : { input: tokens[0], ...options };
  const taskId = await createTask(connection, endpoint, body, {
    model,
    signal: context.signal,
    run: context,
  });
  return submitted(taskId, endpoint, {
    views: present.map(({ view }) => view),
    ...modelSent(model),
    ...notSent(request, false),
  });
}

// ---------------------------------------------------------------------------------------------------
// refine-model: re-texture through /models/texture

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

/**
 * The Tripo task behind a model this service produced for this tenant, or undefined when the
 * URL is any other file (or a model another provider made).
 */
async function producingTripoTask(
  url: string,
  tenantId: string,
): Promise<{ taskId: string; jobId: string } | undefined> {
  const path = storagePath(url);
  const jobId = path === undefined ? undefined : PRODUCED_MODEL_PATH.exec(path)?.[1];
  if (path === undefined || jobId === undefined) return undefined;
  // The lookup is keyed by tenant, and the stored asset path names the tenant too.
  const task = await taskRepository.get(tenantId, jobId);
  if (task?.status !== 'complete' || !task.assets?.some((asset) => asset.path === path)) return undefined;
  if (task.provider !== 'tripo' || !task.ai_service_task_id) return undefined;
  return { taskId: task.ai_service_task_id, jobId };
}

const GLB_MAGIC = Buffer.from('glTF', 'ascii');

/** The model as Tripo's `input`: its task id when this service made it, else an uploaded file. */
async function textureInput(
  connection: TripoConnection,
  url: string,
  context: ProviderRunContext,
): Promise<{ input: string; sent: Record<string, unknown> }> {
  const produced = await producingTripoTask(url, context.tenantId);
  if (produced) {
    return {
      input: produced.taskId,
      sent: { input_from: `the Tripo task of job ${produced.jobId}, which produced input_model_asset_url` },
    };
  }
  const model = await fetchInput('input_model_asset_url', url);
  if (!model.bytes.subarray(0, 4).equals(GLB_MAGIC)) {
    throw new InputInvalidError(
      'input_model_asset_url must be a GLB model (binary glTF) for Tripo re-texturing',
    );
  }
  const token = await uploadFile(connection, model.bytes, 'model.glb', 'model/gltf-binary', context.signal);
  return {
    input: token,
    sent: {
      input_from: 'input_model_asset_url uploaded to Tripo (not a model this service produced with Tripo)',
    },
  };
}

async function submitRefineModel(
  params: Record<string, unknown>,
  context: ProviderRunContext,
): ReturnType<AsyncProviderOperation['submit']> {
  const request = RefineModelSchema.parse(params);
  const setting = tripoSettings.models.texture;
  const model = { id: providerModel(setting), variable: setting.env };
  const connection = await tripoConnection();
  const { input, sent } = await textureInput(connection, request.input_model_asset_url, context);
  const body = {
    input,
    model: model.id,
    texture_prompt: { text: request.prompt },
    ...pick(request, REFINE_KEYS),
  };
  const endpoint = '/models/texture';
  const taskId = await createTask(connection, endpoint, body, {
    model,
    signal: context.signal,
    run: context,
  });
  const unsent = REFINE_UNSENT_KEYS.filter((key) => request[key] !== undefined);
  return submitted(taskId, endpoint, {
    ...modelSent(model),
    ...sent,
    operation_meaning: 're-texture guided by prompt (Tripo retired geometry refinement on 2026-10-31)',
    ...(request.draft_model_task_id !== undefined
      ? { draft_model_task_id: 'ignored: the model is resolved from input_model_asset_url' }
      : {}),
    ...(unsent.length > 0 ? { not_sent: unsent, not_sent_reason: 're-texturing keeps the geometry' } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------
// Poll

/** A result URL: a string, or (in some answers) an object holding `url`. */
const OutputUrl = z
  .union([z.string(), z.object({ url: z.string() }).transform((value) => value.url)])
  .nullish()
  .catch(undefined);

const TaskSchema = z.object({
  task_id: z.string().optional(),
  status: z.string(),
  progress: z.number().nullish().catch(undefined),
  error_code: z.union([z.number(), z.string()]).nullish().catch(undefined),
  error_message: z.string().nullish().catch(undefined),
  // Older SDK revisions read error_msg; accepted so no failure loses its reason.
  error_msg: z.string().nullish().catch(undefined),
  credits_consumed: z.number().nullish().catch(undefined),
  // Tripo may add keys to output; only the model is read.
  output: z
    .object({ model_url: OutputUrl, model_urls: z.array(z.string()).nullish().catch(undefined) })
    .nullish()
    .catch(undefined),
});
type TripoTask = z.infer<typeof TaskSchema>;

async function readTask(
  connection: TripoConnection,
  taskId: string,
  signal: AbortSignal | undefined,
): Promise<TripoTask> {
  const answer = TaskSchema.safeParse(
    await tripoRequest(`/tasks/${encodeURIComponent(taskId)}`, connection, {
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

function resultUrl(task: TripoTask): string | undefined {
  return task.output?.model_url ?? task.output?.model_urls?.[0] ?? undefined;
}

/**
 * Downloads the model at once. URLs live about five minutes; if the first one cannot be fetched
 * (expired between poll and download), the task is read again for fresh URLs, once.
 */
async function downloadResult(
  connection: TripoConnection,
  taskId: string,
  task: TripoTask,
  signal: AbortSignal | undefined,
): Promise<PollOutcome> {
  let current = task;
  for (let attempt = 1; ; attempt++) {
    const url = resultUrl(current);
    if (!url) {
      throw new ProviderRejectedError(
        `${TRIPO_LABEL} reported task ${taskId} as success without a model URL; submitting the request again may help`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await downloadProviderFile(TRIPO_LABEL, url, connection.baseUrl);
    } catch (error) {
      if (attempt >= 2 || !(error instanceof ProviderRejectedError)) throw error;
      logger.warn('Tripo result download failed; reading the task again for fresh URLs', {
        provider_job_id: taskId,
        error_message: error.message,
      });
      current = await readTask(connection, taskId, signal);
      continue;
    }
    if (sniffFileKind(bytes)?.extension !== 'glb') {
      throw new ProviderRejectedError(`${TRIPO_LABEL} returned a model that is not a GLB`);
    }
    return {
      status: 'done',
      files: [{ bytes, contentType: 'model/gltf-binary', extension: 'glb' }],
      sent:
        typeof current.credits_consumed === 'number' ? { credits_consumed: current.credits_consumed } : {},
    };
  }
}

function describe(task: TripoTask): string {
  const parts = [`status "${task.status}"`];
  if (task.error_code !== undefined && task.error_code !== null) parts.push(`error_code ${task.error_code}`);
  const message = task.error_message ?? task.error_msg;
  if (message) parts.push(message.slice(0, 300));
  return parts.join(', ');
}

/** Codes a `failed` task carries for moderation (v2's `banned`) and queue expiry (v2's `expired`). */
const MODERATED_CODE = 2008;
const QUEUE_EXPIRED_CODE = 2018;

function failure(taskId: string, task: TripoTask): Error {
  const which = `task ${taskId} (${describe(task)})`;
  const code = Number(task.error_code);
  if (task.status === 'banned' || code === MODERATED_CODE) {
    return moderatedError(TRIPO_LABEL, `${which}: the prompt or image violates Tripo's content policy`);
  }
  if (task.status === 'expired' || code === QUEUE_EXPIRED_CODE) {
    return new JobDeadlineExceededError(
      `${TRIPO_LABEL} ${which} timed out in Tripo's queue before starting; submitting the request again may help`,
    );
  }
  switch (task.status) {
    case 'failed':
      return new ProviderRejectedError(
        `${TRIPO_LABEL} failed to make the model: ${which}; submitting the request again may help`,
      );
    case 'cancelled':
      return new ProviderRejectedError(
        `${TRIPO_LABEL} cancelled ${which}; submitting the request again may help`,
      );
    case 'unknown':
      return new ProviderRejectedError(
        `${TRIPO_LABEL} lost ${which} to a problem on its side; submitting the request again may help`,
      );
    default:
      // A status Tripo does not document is not waited out: the task fails now, saying which.
      return new ProviderRejectedError(
        `${TRIPO_LABEL} reported ${which}, a status this service does not know; submitting the request again may help`,
      );
  }
}

async function poll(rawState: Record<string, unknown>, context: ProviderRunContext): Promise<PollOutcome> {
  // The state was written by submit; a mismatch is a bug, not a provider answer.
  const state = JobStateSchema.parse(rawState);
  const connection = await tripoConnection();
  const task = await readTask(connection, state.task_id, context.signal);
  switch (task.status) {
    case 'queued':
    case 'running':
      // v3 gives no time estimate: the poll schedule estimates one from this progress. 100 only
      // with the result.
      return {
        status: 'pending',
        ...(typeof task.progress === 'number' ? { progress: Math.min(99, Math.max(0, task.progress)) } : {}),
      };
    case 'success':
      return downloadResult(connection, state.task_id, task, context.signal);
    default:
      throw failure(state.task_id, task);
  }
}

// ---------------------------------------------------------------------------------------------------
// Catalogue entries

const common = { poll } as const;

export const tripoTextToModel: AsyncProviderOperation = {
  ...common,
  ...tripoRequests['text-to-model'],
  deadlineSeconds: GENERATION_DEADLINE_SECONDS,
  polling: tripoGenerationPolling,
  submit: (params, _inputs, context) => submitTextToModel(params, context),
};

export const tripoImageToModel: AsyncProviderOperation = {
  ...common,
  ...tripoRequests['image-to-model'],
  deadlineSeconds: GENERATION_DEADLINE_SECONDS,
  polling: tripoGenerationPolling,
  submit: (params, inputs, context) => submitImageToModel(params, inputs, context),
};

export const tripoRefineModel: AsyncProviderOperation = {
  ...common,
  ...tripoRequests['refine-model'],
  deadlineSeconds: TEXTURE_DEADLINE_SECONDS,
  polling: tripoTexturePolling,
  submit: (params, _inputs, context) => submitRefineModel(params, context),
};

export const tripoOperations: Record<string, ProviderOperation> = {
  'text-to-model': tripoTextToModel,
  'image-to-model': tripoImageToModel,
  'refine-model': tripoRefineModel,
};

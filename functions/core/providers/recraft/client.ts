import * as z from 'zod';
import { ProviderRejectedError } from '../../errors.ts';
import type { GeneratedFile } from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import {
  downloadProviderFile,
  type ProviderConnection,
  providerConnection,
  providerFetch,
} from '../http-client.ts';
import { errorForStatus, moderatedError } from '../provider-errors.ts';
import { recraftSettings } from './settings.ts';

/**
 * Transport for Recraft's external API (docs/providers/recraft.md, "Endpoints the service uses"): `Authorization: Bearer`, one
 * synchronous call per operation, Recraft's error bodies (plain text or JSON), and the results
 * (temporary `url`s downloaded at once, or `b64_json` decoded).
 */

export const RECRAFT_LABEL = recraftSettings.label;

export type RecraftConnection = ProviderConnection;

export function recraftConnection(): Promise<RecraftConnection> {
  return providerConnection(recraftSettings);
}

/**
 * Recraft documents no code for a content-policy refusal. It is recognised by the code
 * `content_policy_violation` (the OpenAI-style name the simulator answers with) or by a message
 * that names the content policy, so that it fails as `content_moderated` rather than a plain 400.
 */
const MODERATION_CODES = new Set(['content_policy_violation']);

interface RecraftErrorBody {
  code?: string;
  message: string;
}

/**
 * Recraft answers errors as `text/plain` (401 "request unauthorized", 404 "404 page not found")
 * or JSON (docs/providers/recraft.md, "Error shapes"): the body is read as text, and parsed only when it says it is JSON.
 */
async function readError(response: Response): Promise<RecraftErrorBody> {
  const text = (await response.text().catch(() => '')).trim();
  if (!(response.headers.get('content-type') ?? '').toLowerCase().includes('application/json')) {
    return { message: text };
  }
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) return { message: text };
    const { code, message, error } = body as { code?: unknown; message?: unknown; error?: unknown };
    const detail = typeof message === 'string' ? message : typeof error === 'string' ? error : text;
    return typeof code === 'string' ? { code, message: detail } : { message: detail };
  } catch {
    return { message: text };
  }
}

function isModeration(error: RecraftErrorBody): boolean {
  return (
    (error.code !== undefined && MODERATION_CODES.has(error.code)) ||
    /content[ _-]?polic/i.test(error.message)
  );
}

/** A Recraft answer as the BFF's named error: moderation, else retryability from the status. */
async function translateError(response: Response): Promise<Error> {
  const error = await readError(response);
  if (isModeration(error)) return moderatedError(RECRAFT_LABEL, error.message);
  const detail =
    error.code && !error.message.includes(error.code) ? `${error.code}: ${error.message}` : error.message;
  return errorForStatus(RECRAFT_LABEL, response.status, detail);
}

/**
 * One POST to `/v1/images/<operation>`: JSON for generation, multipart (files `image`, `mask`)
 * for the edit tools. Returns the parsed JSON body.
 */
export async function recraftPost(
  connection: RecraftConnection,
  operation: string,
  body: Record<string, unknown> | FormData,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${connection.key}`,
    accept: 'application/json',
  };
  // fetch sets the multipart boundary itself; JSON needs its type said.
  if (!(body instanceof FormData)) headers['content-type'] = 'application/json';
  const response = await providerFetch(RECRAFT_LABEL, `${connection.baseUrl}/v1/images/${operation}`, {
    method: 'POST',
    headers,
    body: body instanceof FormData ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await translateError(response);
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderRejectedError(
      `${RECRAFT_LABEL} answered HTTP ${response.status} with a body that is not JSON`,
    );
  }
}

const ImageItemSchema = z.object({
  image_id: z.string().optional(),
  url: z.string().optional(),
  b64_json: z.string().optional(),
});
type ImageItem = z.infer<typeof ImageItemSchema>;

/** Generation, image-to-image and inpaint: one entry per image (`n`). */
const GenerateResponseSchema = z.object({
  data: z.array(ImageItemSchema).min(1),
  credits: z.number().optional(),
});
/** Processing tools (remove background, upscale): a single image. */
const ProcessResponseSchema = z.object({ image: ImageItemSchema, credits: z.number().optional() });

export interface RecraftResult {
  files: GeneratedFile[];
  /** Result facts for the row's metadata: Recraft's charge and its image ids. */
  facts: Record<string, unknown>;
}

/** The BFF keeps raster concept images; anything else (e.g. an SVG) is refused, not stored. */
const RASTER_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp']);

async function fileOf(item: ImageItem, connection: RecraftConnection): Promise<GeneratedFile> {
  let bytes: Buffer;
  if (item.b64_json !== undefined) bytes = Buffer.from(item.b64_json, 'base64');
  // Recraft keeps result files about 24 hours: they are fetched now, while the URL works.
  else if (item.url !== undefined)
    bytes = await downloadProviderFile(RECRAFT_LABEL, item.url, connection.baseUrl);
  else throw new ProviderRejectedError(`${RECRAFT_LABEL} returned an image with neither url nor b64_json`);
  const kind = sniffFileKind(bytes);
  if (!kind || !RASTER_TYPES.has(kind.contentType)) {
    throw new ProviderRejectedError(`${RECRAFT_LABEL} returned data that is not a PNG, JPEG or WebP image`);
  }
  return { bytes, contentType: kind.contentType, extension: kind.extension };
}

function facts(items: ImageItem[], credits: number | undefined): Record<string, unknown> {
  const imageIds = items.flatMap((item) => (item.image_id ? [item.image_id] : []));
  return {
    ...(credits !== undefined ? { recraft_credits: credits } : {}),
    ...(imageIds.length > 0 ? { recraft_image_ids: imageIds } : {}),
  };
}

function unexpected(): ProviderRejectedError {
  return new ProviderRejectedError(`${RECRAFT_LABEL} answered with a body that has no image`);
}

/** Every image of a generate-shaped answer (`data[]`), in Recraft's order. */
export async function generatedImages(body: unknown, connection: RecraftConnection): Promise<RecraftResult> {
  const parsed = GenerateResponseSchema.safeParse(body);
  if (!parsed.success) throw unexpected();
  // One paid call made every image: each is downloaded (and retried) on its own, and all are
  // awaited, so a slow or failing image k never cuts short the downloads of the others.
  const settled = await Promise.allSettled(parsed.data.data.map((item) => fileOf(item, connection)));
  const files: GeneratedFile[] = [];
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    files.push(result.value);
  }
  return { files, facts: facts(parsed.data.data, parsed.data.credits) };
}

/** The single image of a processing tool's answer (`image`). */
export async function processedImage(body: unknown, connection: RecraftConnection): Promise<RecraftResult> {
  const parsed = ProcessResponseSchema.safeParse(body);
  if (!parsed.success) throw unexpected();
  return {
    files: [await fileOf(parsed.data.image, connection)],
    facts: facts([parsed.data.image], parsed.data.credits),
  };
}

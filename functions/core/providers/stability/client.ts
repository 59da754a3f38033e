import * as z from 'zod';
import { ProviderRejectedError } from '../../errors.ts';
import type { GeneratedFile } from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import { providerConnection, providerFetch } from '../http-client.ts';
import { errorForStatus, moderatedError } from '../provider-errors.ts';
import type { CheckedImage } from './input-image.ts';
import { stabilitySettings } from './settings.ts';

/**
 * The Stability AI REST v2beta transport (docs/providers/stability.md, "Endpoints the service uses"): every service the BFF
 * uses is one synchronous multipart POST that answers the result itself (an image, or for
 * SPAR3D a GLB model).
 */

export const STABILITY_LABEL = stabilitySettings.label;

/** A form field as Stability reads it: multipart text, so numbers travel as their decimal text. */
export type StabilityFieldValue = string | number;

export interface StabilityCall {
  /** Path under the base URL, e.g. `/v2beta/stable-image/generate/core`. */
  path: string;
  /** Text fields, in the order they are sent; undefined values are left out. */
  fields: Record<string, StabilityFieldValue | undefined>;
  /** The `image` part, for every service but text-to-image. */
  image?: CheckedImage;
  /** What the service answers: an image (the default) or a GLB model (the 3D services). */
  produces?: 'image' | 'model';
  signal?: AbortSignal;
}

// The image services negotiate with `accept` (`image/*` answers raw bytes). The 3D services
// document no negotiation and only answer GLB (docs/providers/stability.md, "Endpoints the service uses"): they get the wildcard
// that Stability's own samples send, since `application/json` is refused there and `image/*`
// would ask for a type they never answer.
const ACCEPT = { image: 'image/*', model: '*/*' } as const;

export interface StabilityResult {
  file: GeneratedFile;
  /** The seed Stability used (its `seed` header), worth keeping to reproduce a result. */
  seed?: number;
}

/** Stability's error body: `{id, name, errors: ["field: message", …]}`. */
const StabilityErrorBodySchema = z.object({
  name: z.string().optional(),
  errors: z.array(z.string()).optional(),
});

/**
 * The error name and a one-line detail. Bodies are read as text first because a gateway in
 * front of Stability may answer plain text or HTML.
 */
async function readError(response: Response): Promise<{ name?: string; detail: string }> {
  const text = (await response.text().catch(() => '')).trim();
  if (!(response.headers.get('content-type') ?? '').includes('json')) return { detail: text };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { detail: text };
  }
  const parsed = StabilityErrorBodySchema.safeParse(body);
  if (!parsed.success) return { detail: text };
  const { name, errors = [] } = parsed.data;
  const detail = [name, errors.join('; ')].filter((part) => part !== undefined && part !== '').join(': ');
  return { ...(name ? { name } : {}), detail: detail || text };
}

/**
 * Stability's statuses as the BFF's named errors. 403 is its content-moderation refusal (not a
 * credentials problem as elsewhere), and a 422 `public_figure` is a policy refusal as well; the
 * rest follows the shared rule (402 credits and 400s are final, 429 and 5xx are retried).
 */
async function translateError(response: Response): Promise<Error> {
  const { name, detail } = await readError(response);
  if (response.status === 403 || (response.status === 422 && name === 'public_figure')) {
    return moderatedError(STABILITY_LABEL, detail);
  }
  return errorForStatus(STABILITY_LABEL, response.status, detail);
}

/** One call to a Stability service; throws the BFF's named errors. */
export async function callStability(call: StabilityCall): Promise<StabilityResult> {
  const { baseUrl, key: apiKey } = await providerConnection(stabilitySettings);
  const produces = call.produces ?? 'image';

  // Stability takes multipart/form-data only, even without a file; fetch writes the boundary
  // into content-type itself, so that header is never set here.
  const form = new FormData();
  if (call.image) {
    const { bytes, contentType, extension } = call.image;
    form.append('image', new Blob([new Uint8Array(bytes)], { type: contentType }), `image.${extension}`);
  }
  for (const [name, value] of Object.entries(call.fields)) {
    if (value !== undefined) form.append(name, String(value));
  }

  const response = await providerFetch(STABILITY_LABEL, `${baseUrl}${call.path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, accept: ACCEPT[produces] },
    body: form,
    ...(call.signal ? { signal: call.signal } : {}),
  });
  if (!response.ok) throw await translateError(response);

  // An HTTP 200 can still be a refusal: Stability then blurs the image and says so in
  // `finish-reason`. A blurred picture is not a result, so the task fails as moderated.
  if (response.headers.get('finish-reason') === 'CONTENT_FILTERED') {
    await response.body?.cancel();
    throw moderatedError(
      STABILITY_LABEL,
      'the result was filtered by its content moderation (finish-reason CONTENT_FILTERED)',
    );
  }

  const bytes = Buffer.from(await response.arrayBuffer());
  // The bytes, not the content-type header, decide how the result is stored.
  const kind = sniffFileKind(bytes);
  const expected = produces === 'model' ? kind?.extension === 'glb' : kind?.contentType.startsWith('image/');
  if (!kind || !expected) {
    throw new ProviderRejectedError(
      `${STABILITY_LABEL} returned data that is not ${produces === 'model' ? 'a GLB model' : 'an image'}`,
    );
  }
  const seedHeader = Number(response.headers.get('seed') ?? Number.NaN);
  return {
    file: { bytes, contentType: kind.contentType, extension: kind.extension },
    ...(Number.isInteger(seedHeader) ? { seed: seedHeader } : {}),
  };
}

import { InputInvalidError } from '../../errors.ts';
import type { SyncProviderOperation, SyncRunResult } from '../../operations/provider-operation.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { callStability, type StabilityFieldValue } from './client.ts';
import { type CheckedImage, checkInputImage } from './input-image.ts';
import {
  ASPECT_RATIOS,
  ImageToImageSchema,
  ImageToModelSchema,
  RemoveBackgroundSchema,
  SearchAndRecolorSchema,
  SketchToImageSchema,
  SPAR3D_MAX_FOREGROUND_RATIO,
  SPAR3D_MIN_FOREGROUND_RATIO,
  stabilityRequests,
  TextToImageSchema,
  UpscaleSchema,
} from './schemas.ts';
import { stabilitySettings } from './settings.ts';

/**
 * Stability AI v2beta for the operations of docs/api.md, Generation requests (provider facts: docs/providers/stability.md). Every
 * guide field is checked against Stability's own limits and sent under Stability's name (they
 * are the same names); nothing else is sent.
 *
 * Endpoint choices:
 * - text-to-image → generate/core: takes exactly the guide's fields (style_preset, aspect_ratio,
 *   negative_prompt, output_format, seed); Ultra costs more and SD3 has no webp output.
 * - image-to-image → control/style: the guide's knob is `fidelity` ("adherence to input", 0–1),
 *   which is control/style's parameter; control/structure takes `control_strength` instead and
 *   the guide offers no such field for this operation. The earlier deployment used control/style
 *   too, so clients keep the results they tuned against (docs/providers/stability.md, "Endpoints the service uses").
 * - sketch-to-image → control/sketch; remove-background → edit/remove-background;
 *   search-and-recolor → edit/search-and-recolor; upscale → upscale/fast (the guide's only model).
 * - image-to-model → 3d/stable-point-aware-3d (SPAR3D): the guide's fields are SPAR3D's
 *   (target_type, target_count, guidance_scale, seed); Stable Fast 3D has none of them.
 */

function inputFor(inputs: FetchedInput[], field: string): FetchedInput {
  const input = inputs.find((candidate) => candidate.field === field);
  if (!input) throw new InputInvalidError(`${field} is required`);
  return input;
}

/** The field's image, checked against the operation's limits before anything is sent. */
function checked(
  inputs: FetchedInput[],
  field: string,
  operation: keyof typeof stabilitySettings.inputImages,
): CheckedImage {
  return checkInputImage(inputFor(inputs, field), stabilitySettings.inputImages[operation]);
}

/** Blank negative prompts are not sent: Stability would only see an empty field. */
function nonEmpty(value: string | undefined): string | undefined {
  return value ? value : undefined;
}

/**
 * Calls one service and reports what was sent for the row's metadata: the endpoint, the
 * settings (prompts are already in the request), any translation, and the seed Stability used.
 */
async function run(
  path: string,
  fields: Record<string, StabilityFieldValue | undefined>,
  options: {
    image?: CheckedImage;
    produces?: 'image' | 'model';
    signal?: AbortSignal;
    /** Translations and other facts about the request, merged into `sent`. */
    notes?: Record<string, unknown>;
  } = {},
): Promise<SyncRunResult> {
  const { file, seed: usedSeed } = await callStability({
    path,
    fields,
    ...(options.image ? { image: options.image } : {}),
    ...(options.produces ? { produces: options.produces } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && !name.endsWith('prompt')) settings[name] = value;
  }
  return {
    files: [file],
    sent: {
      endpoint: path,
      ...settings,
      ...options.notes,
      ...(usedSeed !== undefined ? { seed_used: usedSeed } : {}),
    },
  };
}

/** The listed ratio closest to the image's proportions (compared on a log scale). */
function nearestAspectRatio(width: number, height: number): (typeof ASPECT_RATIOS)[number] {
  const target = Math.log(width / height);
  let best: (typeof ASPECT_RATIOS)[number] = '1:1';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const ratio of ASPECT_RATIOS) {
    const [w = 1, h = 1] = ratio.split(':').map(Number);
    const distance = Math.abs(Math.log(w / h) - target);
    if (distance < bestDistance) {
      best = ratio;
      bestDistance = distance;
    }
  }
  return best;
}

function generate(params: Record<string, unknown>, signal?: AbortSignal): Promise<SyncRunResult> {
  const request = TextToImageSchema.parse(params);
  return run(
    '/v2beta/stable-image/generate/core',
    {
      prompt: request.prompt,
      negative_prompt: nonEmpty(request.negative_prompt),
      style_preset: request.style_preset,
      aspect_ratio: request.aspect_ratio,
      output_format: request.output_format,
      seed: request.seed,
    },
    { ...(signal ? { signal } : {}) },
  );
}

/**
 * control/style draws a new picture whose shape comes from `aspect_ratio` (default 1:1), not from
 * the input. A client transforming a 16:9 image expects 16:9 back, so unless the request names a
 * ratio, the listed ratio nearest the input's is sent (and recorded as a translation).
 */
function styleTransfer(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = ImageToImageSchema.parse(params);
  const image = checked(inputs, 'input_image_asset_url', 'image-to-image');
  const aspectRatio = request.aspect_ratio ?? nearestAspectRatio(image.width, image.height);
  return run(
    '/v2beta/stable-image/control/style',
    {
      prompt: request.prompt,
      negative_prompt: nonEmpty(request.negative_prompt),
      // Stability documents style_preset for this service without saying what it changes.
      style_preset: request.style_preset,
      fidelity: request.fidelity,
      aspect_ratio: aspectRatio,
      output_format: request.output_format,
      seed: request.seed,
    },
    {
      image,
      ...(signal ? { signal } : {}),
      ...(request.aspect_ratio
        ? {}
        : { notes: { aspect_ratio_from_input: `${image.width}x${image.height}` } }),
    },
  );
}

function sketch(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = SketchToImageSchema.parse(params);
  const image = checked(inputs, 'input_sketch_asset_url', 'sketch-to-image');
  return run(
    '/v2beta/stable-image/control/sketch',
    {
      prompt: request.prompt,
      negative_prompt: nonEmpty(request.negative_prompt),
      control_strength: request.control_strength,
      style_preset: request.style_preset,
      output_format: request.output_format,
      seed: request.seed,
    },
    { image, ...(signal ? { signal } : {}) },
  );
}

function removeBackground(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = RemoveBackgroundSchema.parse(params);
  const image = checked(inputs, 'input_image_asset_url', 'remove-background');
  return run(
    '/v2beta/stable-image/edit/remove-background',
    { output_format: request.output_format },
    { image, ...(signal ? { signal } : {}) },
  );
}

function searchAndRecolor(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = SearchAndRecolorSchema.parse(params);
  const image = checked(inputs, 'input_image_asset_url', 'search-and-recolor');
  return run(
    '/v2beta/stable-image/edit/search-and-recolor',
    {
      prompt: request.prompt,
      select_prompt: request.select_prompt,
      negative_prompt: nonEmpty(request.negative_prompt),
      grow_mask: request.grow_mask,
      seed: request.seed,
      output_format: request.output_format,
      style_preset: request.style_preset,
    },
    { image, ...(signal ? { signal } : {}) },
  );
}

/** `model` only selects the service (fast is the only one offered); it is not a Stability field. */
function upscale(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = UpscaleSchema.parse(params);
  const image = checked(inputs, 'input_image_asset_url', 'upscale');
  return run(
    '/v2beta/stable-image/upscale/fast',
    { output_format: request.output_format },
    { image, ...(signal ? { signal } : {}) },
  );
}

/**
 * SPAR3D from the one input image. A guide-style foreground_ratio below 1 is sent as 1, SPAR3D's
 * minimum (docs/api.md, Generation requests, "Stability AI": a documented translation), and the row's metadata records both values.
 */
function imageToModel(
  params: Record<string, unknown>,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const request = ImageToModelSchema.parse(params);
  // The fetcher names array entries by index; the schema allows exactly one.
  const image = checked(inputs, 'input_image_asset_urls[0]', 'image-to-model');
  const requestedRatio = request.foreground_ratio;
  const translated = requestedRatio !== undefined && requestedRatio < SPAR3D_MIN_FOREGROUND_RATIO;
  const notes: Record<string, unknown> = {};
  if (translated) {
    notes.translations = {
      foreground_ratio: {
        requested: requestedRatio,
        sent: SPAR3D_MIN_FOREGROUND_RATIO,
        reason: `SPAR3D takes ${SPAR3D_MIN_FOREGROUND_RATIO}-${SPAR3D_MAX_FOREGROUND_RATIO}; a value below ${SPAR3D_MIN_FOREGROUND_RATIO} is sent as ${SPAR3D_MIN_FOREGROUND_RATIO}, its minimum`,
      },
    };
  }
  if (request.prompt) notes.not_sent = { prompt: 'SPAR3D takes no prompt' };
  return run(
    '/v2beta/3d/stable-point-aware-3d',
    {
      texture_resolution:
        request.texture_resolution === undefined ? undefined : String(request.texture_resolution),
      foreground_ratio: translated ? SPAR3D_MIN_FOREGROUND_RATIO : requestedRatio,
      remesh: request.remesh,
      target_type: request.target_type,
      target_count: request.target_count,
      guidance_scale: request.guidance_scale,
      seed: request.seed,
    },
    { image, produces: 'model', notes, ...(signal ? { signal } : {}) },
  );
}

export const stabilityOperations = {
  'text-to-image': {
    ...stabilityRequests['text-to-image'],
    run: (params, _inputs, context) => generate(params, context.signal),
  },
  'image-to-image': {
    ...stabilityRequests['image-to-image'],
    run: (params, inputs, context) => styleTransfer(params, inputs, context.signal),
  },
  'sketch-to-image': {
    ...stabilityRequests['sketch-to-image'],
    run: (params, inputs, context) => sketch(params, inputs, context.signal),
  },
  'remove-background': {
    ...stabilityRequests['remove-background'],
    run: (params, inputs, context) => removeBackground(params, inputs, context.signal),
  },
  'search-and-recolor': {
    ...stabilityRequests['search-and-recolor'],
    run: (params, inputs, context) => searchAndRecolor(params, inputs, context.signal),
  },
  upscale: {
    ...stabilityRequests.upscale,
    run: (params, inputs, context) => upscale(params, inputs, context.signal),
  },
  'image-to-model': {
    ...stabilityRequests['image-to-model'],
    run: (params, inputs, context) => imageToModel(params, inputs, context.signal),
  },
} satisfies Record<string, SyncProviderOperation>;

import { z } from 'zod';
import { InputInvalidError } from '../../errors.ts';
import { assetUrlField, intRange, numberRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { SyncProviderOperation, SyncRunResult } from '../../operations/provider-operation.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { callStability, type StabilityFieldValue } from './client.ts';
import { type CheckedImage, checkInputImage } from './input-image.ts';
import { stabilitySettings } from './settings.ts';

/**
 * Stability AI v2beta for the operations of contract §3 (provider-contracts.md §3). Every
 * guide field is checked against Stability's own limits and sent under Stability's name (they
 * are the same names); nothing else is sent.
 *
 * Endpoint choices:
 * - text-to-image → generate/core: takes exactly the guide's fields (style_preset, aspect_ratio,
 *   negative_prompt, output_format, seed); Ultra costs more and SD3 has no webp output.
 * - image-to-image → control/style: the guide's knob is `fidelity` ("adherence to input", 0–1),
 *   which is control/style's parameter; control/structure takes `control_strength` instead and
 *   the guide offers no such field for this operation. The earlier deployment used control/style
 *   too, so clients keep the results they tuned against (provider-contracts §8 item 4).
 * - sketch-to-image → control/sketch; remove-background → edit/remove-background;
 *   search-and-recolor → edit/search-and-recolor; upscale → upscale/fast (the guide's only model).
 * - image-to-model → 3d/stable-point-aware-3d (SPAR3D): the guide's fields are SPAR3D's
 *   (target_type, target_count, guidance_scale, seed); Stable Fast 3D has none of them.
 */

const STYLE_PRESETS = [
  'enhance',
  'anime',
  'photographic',
  'digital-art',
  'comic-book',
  'fantasy-art',
  'line-art',
  'analog-film',
  'neon-punk',
  'isometric',
  'low-poly',
  'origami',
  'modeling-compound',
  'cinematic',
  '3d-model',
  'pixel-art',
  'tile-texture',
] as const;
const ASPECT_RATIOS = ['21:9', '16:9', '3:2', '5:4', '1:1', '4:5', '2:3', '9:16', '9:21'] as const;
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
const TRANSPARENT_FORMATS = ['png', 'webp'] as const;
/** Stability's prompt fields all take up to 10,000 characters. */
const MAX_PROMPT = 10_000;
/** 0 (or no seed) asks Stability for a random one. */
const MAX_SEED = 4_294_967_294;
/** Not Stability's 0.5: the earlier deployment sent 0.8 (also the guide's example value). */
const DEFAULT_FIDELITY = 0.8;
/** Stability's own default, sent explicitly (the earlier deployment's 0.4/0.8 disagreed, §8 item 8). */
const DEFAULT_CONTROL_STRENGTH = 0.7;
const DEFAULT_GROW_MASK = 3;

const prompt = text(MAX_PROMPT);
/** An empty negative prompt means none, so it is accepted and simply not sent. */
const negativePrompt = text(MAX_PROMPT, { min: 0 }).optional();
const stylePreset = oneOf(STYLE_PRESETS).optional();
const seed = intRange(0, MAX_SEED).optional();
const outputFormat = oneOf(OUTPUT_FORMATS).default('png');
const common = { task_id: taskIdField, provider: z.literal('stability') };

const TextToImageSchema = z.object({
  ...common,
  prompt,
  negative_prompt: negativePrompt,
  style_preset: stylePreset,
  aspect_ratio: oneOf(ASPECT_RATIOS).optional(),
  output_format: outputFormat,
  seed,
});

const ImageToImageSchema = z.object({
  ...common,
  prompt,
  input_image_asset_url: assetUrlField,
  negative_prompt: negativePrompt,
  style_preset: stylePreset,
  fidelity: numberRange(0, 1).default(DEFAULT_FIDELITY),
  // Not in the guide for this provider, but control/style takes it; without it the output
  // follows the input's proportions (see styleTransfer).
  aspect_ratio: oneOf(ASPECT_RATIOS).optional(),
  output_format: outputFormat,
  seed,
});

const SketchToImageSchema = z.object({
  ...common,
  prompt,
  input_sketch_asset_url: assetUrlField,
  control_strength: numberRange(0, 1).default(DEFAULT_CONTROL_STRENGTH),
  negative_prompt: negativePrompt,
  style_preset: stylePreset,
  output_format: outputFormat,
  seed,
});

const RemoveBackgroundSchema = z.object({
  ...common,
  input_image_asset_url: assetUrlField,
  output_format: z
    .enum(TRANSPARENT_FORMATS, {
      error: () =>
        `must be one of: ${TRANSPARENT_FORMATS.join(', ')} (Stability's background removal only produces png or webp)`,
    })
    .default('png'),
});

const SearchAndRecolorSchema = z.object({
  ...common,
  input_image_asset_url: assetUrlField,
  prompt,
  select_prompt: text(MAX_PROMPT),
  negative_prompt: negativePrompt,
  grow_mask: intRange(0, 20).default(DEFAULT_GROW_MASK),
  seed,
  output_format: outputFormat,
  style_preset: stylePreset,
});

const TEXTURE_RESOLUTIONS = ['512', '1024', '2048'] as const;
const MULTIVIEW_HINT = 'Stability takes exactly 1 image; use provider tripo for multiview';
/** SPAR3D's foreground_ratio range; the guide documents 0–1 (Stable Fast 3D's range). */
const SPAR3D_MIN_FOREGROUND_RATIO = 1;
const SPAR3D_MAX_FOREGROUND_RATIO = 2;
const FOREGROUND_RATIO_MESSAGE = `must be a number between 0 and ${SPAR3D_MAX_FOREGROUND_RATIO} (SPAR3D takes ${SPAR3D_MIN_FOREGROUND_RATIO}-${SPAR3D_MAX_FOREGROUND_RATIO}; values below ${SPAR3D_MIN_FOREGROUND_RATIO}, as in the guide, are sent as ${SPAR3D_MIN_FOREGROUND_RATIO})`;

/**
 * SPAR3D's fields with its own ranges. No defaults: whatever the client leaves out is left to
 * Stability's defaults (texture 1024, foreground_ratio 1.3, remesh none, target_type none,
 * guidance_scale 3), not the earlier deployment's 2048/6/10000 (provider-contracts §8 item 7),
 * so the request holds only what the client chose and the row's metadata says exactly that.
 */
const ImageToModelSchema = z.object({
  ...common,
  input_image_asset_urls: z
    .array(assetUrlField, { error: `must be a list of exactly 1 image URL (${MULTIVIEW_HINT})` })
    // A refinement, not .min/.max: zod runs length checks even on a non-array (a bare string),
    // which would add a second, misleading issue to the one above.
    .superRefine((urls, context) => {
      if (urls.length === 1) return;
      context.addIssue({
        code: 'custom',
        message:
          urls.length === 0
            ? 'must hold exactly 1 image URL'
            : `must hold exactly 1 image URL: ${MULTIVIEW_HINT}`,
      });
    }),
  // The guide lists a prompt, but SPAR3D has no such field: accepted, kept in the row, not sent.
  prompt: text(MAX_PROMPT, { min: 0 }).optional(),
  // Clients send the guide's numbers; Stability documents strings. Both are taken as given
  // (so the row keeps the request as written) and sent as text.
  texture_resolution: z
    .union([z.enum(TEXTURE_RESOLUTIONS), z.literal([512, 1024, 2048])], {
      error: () => `must be one of: ${TEXTURE_RESOLUTIONS.join(', ')}`,
    })
    .optional(),
  remesh: oneOf(['none', 'quad', 'triangle']).optional(),
  foreground_ratio: z
    .number({ error: FOREGROUND_RATIO_MESSAGE })
    .min(0, { error: FOREGROUND_RATIO_MESSAGE })
    .max(SPAR3D_MAX_FOREGROUND_RATIO, { error: FOREGROUND_RATIO_MESSAGE })
    .optional(),
  target_type: oneOf(['none', 'vertex', 'face']).optional(),
  target_count: intRange(100, 20_000).optional(),
  guidance_scale: numberRange(1, 10).optional(),
  seed,
});

const UpscaleSchema = z.object({
  ...common,
  input_image_asset_url: assetUrlField,
  model: z
    .enum(['fast'], { error: () => "must be one of: fast (Stability's only upscale model here)" })
    .default('fast'),
  output_format: outputFormat,
});

/** The input a field names; the workflow fetched every declared input field before running. */
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
 * minimum (contract §3's documented translation), and the row's metadata records both values.
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

const imageOperation = {
  provider: 'stability',
  mode: 'sync',
  resultKind: 'image',
  reportsProgress: false,
} as const;

export const stabilityOperations = {
  'text-to-image': {
    ...imageOperation,
    schema: TextToImageSchema,
    inputFields: [],
    run: (params, _inputs, context) => generate(params, context.signal),
  },
  'image-to-image': {
    ...imageOperation,
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
    run: (params, inputs, context) => styleTransfer(params, inputs, context.signal),
  },
  'sketch-to-image': {
    ...imageOperation,
    schema: SketchToImageSchema,
    inputFields: ['input_sketch_asset_url'],
    run: (params, inputs, context) => sketch(params, inputs, context.signal),
  },
  'remove-background': {
    ...imageOperation,
    schema: RemoveBackgroundSchema,
    inputFields: ['input_image_asset_url'],
    run: (params, inputs, context) => removeBackground(params, inputs, context.signal),
  },
  'search-and-recolor': {
    ...imageOperation,
    schema: SearchAndRecolorSchema,
    inputFields: ['input_image_asset_url'],
    run: (params, inputs, context) => searchAndRecolor(params, inputs, context.signal),
  },
  upscale: {
    ...imageOperation,
    schema: UpscaleSchema,
    inputFields: ['input_image_asset_url'],
    run: (params, inputs, context) => upscale(params, inputs, context.signal),
  },
  'image-to-model': {
    provider: 'stability',
    mode: 'sync',
    resultKind: 'model',
    reportsProgress: false,
    schema: ImageToModelSchema,
    inputFields: ['input_image_asset_urls'],
    run: (params, inputs, context) => imageToModel(params, inputs, context.signal),
  },
} satisfies Record<string, SyncProviderOperation>;

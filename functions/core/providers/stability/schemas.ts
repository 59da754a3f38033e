import * as z from 'zod';
import { assetUrlField, intRange, numberRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { OperationRequest } from '../../operations/operation-request.ts';

/**
 * The requests of the Stability AI operations, with Stability's own limits, for the submit
 * handler; operations.ts runs them.
 */

export const STYLE_PRESETS = [
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
export const ASPECT_RATIOS = ['21:9', '16:9', '3:2', '5:4', '1:1', '4:5', '2:3', '9:16', '9:21'] as const;
export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export const TRANSPARENT_FORMATS = ['png', 'webp'] as const;
/** Stability's prompt fields all take up to 10,000 characters. */
export const MAX_PROMPT = 10_000;
/** 0 (or no seed) asks Stability for a random one. */
export const MAX_SEED = 4_294_967_294;
/** Not Stability's 0.5: the earlier deployment sent 0.8 (also the guide's example value). */
export const DEFAULT_FIDELITY = 0.8;
/** Stability's own default, sent explicitly (the earlier deployment's 0.4/0.8 disagreed; docs/providers/stability.md, "Endpoints the service uses"). */
export const DEFAULT_CONTROL_STRENGTH = 0.7;
export const DEFAULT_GROW_MASK = 3;

export const prompt = text(MAX_PROMPT);
/** An empty negative prompt means none, so it is accepted and simply not sent. */
export const negativePrompt = text(MAX_PROMPT, { min: 0 }).optional();
export const stylePreset = oneOf(STYLE_PRESETS).optional();
export const seed = intRange(0, MAX_SEED).optional();
export const outputFormat = oneOf(OUTPUT_FORMATS).default('png');
export const common = { task_id: taskIdField, provider: z.literal('stability') };

export const TextToImageSchema = z.object({
  ...common,
  prompt,
  negative_prompt: negativePrompt,
  style_preset: stylePreset,
  aspect_ratio: oneOf(ASPECT_RATIOS).optional(),
  output_format: outputFormat,
  seed,
});

export const ImageToImageSchema = z.object({
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

export const SketchToImageSchema = z.object({
  ...common,
  prompt,
  input_sketch_asset_url: assetUrlField,
  control_strength: numberRange(0, 1).default(DEFAULT_CONTROL_STRENGTH),
  negative_prompt: negativePrompt,
  style_preset: stylePreset,
  output_format: outputFormat,
  seed,
});

export const RemoveBackgroundSchema = z.object({
  ...common,
  input_image_asset_url: assetUrlField,
  output_format: z
    .enum(TRANSPARENT_FORMATS, {
      error: () =>
        `must be one of: ${TRANSPARENT_FORMATS.join(', ')} (Stability's background removal only produces png or webp)`,
    })
    .default('png'),
});

export const SearchAndRecolorSchema = z.object({
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

export const TEXTURE_RESOLUTIONS = ['512', '1024', '2048'] as const;
export const MULTIVIEW_HINT = 'Stability takes exactly 1 image; use provider tripo for multiview';
/** SPAR3D's foreground_ratio range; the guide documents 0–1 (Stable Fast 3D's range). */
export const SPAR3D_MIN_FOREGROUND_RATIO = 1;
export const SPAR3D_MAX_FOREGROUND_RATIO = 2;
export const FOREGROUND_RATIO_MESSAGE = `must be a number between 0 and ${SPAR3D_MAX_FOREGROUND_RATIO} (SPAR3D takes ${SPAR3D_MIN_FOREGROUND_RATIO}-${SPAR3D_MAX_FOREGROUND_RATIO}; values below ${SPAR3D_MIN_FOREGROUND_RATIO}, as in the guide, are sent as ${SPAR3D_MIN_FOREGROUND_RATIO})`;

/**
 * SPAR3D's fields with its own ranges. No defaults: whatever the client leaves out is left to
 * Stability's defaults (texture 1024, foreground_ratio 1.3, remesh none, target_type none,
 * guidance_scale 3), not the earlier deployment's 2048/6/10000 (docs/providers/stability.md, "Endpoints the service uses", SPAR3D),
 * so the request holds only what the client chose and the row's metadata says exactly that.
 */
export const ImageToModelSchema = z.object({
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

export const UpscaleSchema = z.object({
  ...common,
  input_image_asset_url: assetUrlField,
  model: z
    .enum(['fast'], { error: () => "must be one of: fast (Stability's only upscale model here)" })
    .default('fast'),
  output_format: outputFormat,
});

/** The input a field names; the workflow fetched every declared input field before running. */

const imageRequest = {
  provider: 'stability',
  mode: 'sync',
  resultKind: 'image',
  reportsProgress: false,
} as const;

/** What the submit handler needs of each Stability operation; operations.ts adds the code that runs it. */
export const stabilityRequests = {
  'text-to-image': {
    ...imageRequest,
    schema: TextToImageSchema,
    inputFields: [],
  },
  'image-to-image': {
    ...imageRequest,
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
  },
  'sketch-to-image': {
    ...imageRequest,
    schema: SketchToImageSchema,
    inputFields: ['input_sketch_asset_url'],
  },
  'remove-background': {
    ...imageRequest,
    schema: RemoveBackgroundSchema,
    inputFields: ['input_image_asset_url'],
  },
  'search-and-recolor': {
    ...imageRequest,
    schema: SearchAndRecolorSchema,
    inputFields: ['input_image_asset_url'],
  },
  upscale: {
    ...imageRequest,
    schema: UpscaleSchema,
    inputFields: ['input_image_asset_url'],
  },
  'image-to-model': {
    provider: 'stability',
    mode: 'sync',
    resultKind: 'model',
    reportsProgress: false,
    schema: ImageToModelSchema,
    inputFields: ['input_image_asset_urls'],
  },
} as const satisfies Record<string, OperationRequest>;

import * as z from 'zod';
import { providerModel } from '../../config.ts';
import { assetUrlField, booleanField, intRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { OperationRequest } from '../../operations/operation-request.ts';
import { fluxSettings } from './settings.ts';

/**
 * The request of FLUX.1 Kontext image editing, with BFL's own limits, for the submit handler;
 * operations.ts runs it (submit once, then poll).
 */

export const MODELS = ['flux-kontext-pro', 'flux-kontext-max'] as const;
/** The guide's list; every one lies inside BFL's 21:9…9:21 range. */
export const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '21:9', '2:3', '3:2', '4:5', '5:4'] as const;
/** BFL takes only these two (the earlier deployment's `webp` was a 422 at BFL; docs/providers/flux.md, "Fields and limits checked"). */
export const OUTPUT_FORMATS = ['png', 'jpeg'] as const;
/** BFL publishes no prompt limit; this bound only keeps request bodies sane. */
export const MAX_PROMPT_CHARACTERS = 10_000;
/** Seeds travel as JSON numbers: larger integers would silently lose precision. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export const ImageToImageSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('flux'),
  prompt: text(MAX_PROMPT_CHARACTERS),
  input_image_asset_url: assetUrlField,
  /** Not in the guide: selects BFL's endpoint (Kontext [max] is dearer and limited to 6 tasks). */
  model: oneOf(MODELS).default(
    () => providerModel(fluxSettings.models.imageToImage) as (typeof MODELS)[number],
  ),
  aspect_ratio: oneOf(ASPECT_RATIOS).optional(),
  output_format: oneOf(OUTPUT_FORMATS).default('png'),
  safety_tolerance: intRange(0, 6).default(2),
  prompt_upsampling: booleanField.default(false),
  seed: intRange(0, MAX_SEED).optional(),
});
export type ImageToImageRequest = z.infer<typeof ImageToImageSchema>;

/** What the submit handler needs of each Flux operation; operations.ts adds the code that runs it. */
export const fluxRequests = {
  'image-to-image': {
    provider: 'flux',
    mode: 'async',
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: true,
  },
} as const satisfies Record<string, OperationRequest>;

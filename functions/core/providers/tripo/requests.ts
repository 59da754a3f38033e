import * as z from 'zod';
import { providerModel } from '../../config.ts';
import { assetUrlField, booleanField, intRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { OperationRequest } from '../../operations/operation-request.ts';
import { retiredOn } from '../provider-settings.ts';
import { tripoSettings } from './settings.ts';

/**
 * Request schemas of the Tripo operations, with Tripo v3's own limits (docs/providers/tripo.md,
 * "Generation fields" and "Models"), so a request Tripo would refuse is a 400 naming the field
 * before anything is billed. Field names are the guide's; `model_version` is sent as v3's `model`.
 */

/** Generation models Tripo v3 serves (SKILL.md "Model versions", checked 2026-12-02). */
export const GENERATION_MODELS = [
  'v3.1-20260211',
  'v3.0-20250812',
  'v2.5-20250123',
  'P1-20260311',
  'P2-20260801',
] as const;
const H3_MODELS: readonly string[] = ['v3.1-20260211', 'v3.0-20250812'];
const isPSeries = (model: string): boolean => model.startsWith('P');

/** Face-count ceilings per model: v3.1 1.5 M (2 M with detailed geometry), v3.0 1 M, v2.5 0.5 M. */
const FACE_LIMITS: Record<string, { min: number; max: number }> = {
  'v3.1-20260211': { min: 1, max: 1_500_000 },
  'v3.0-20250812': { min: 1, max: 1_000_000 },
  'v2.5-20250123': { min: 1, max: 500_000 },
  // Tripo's international service takes 48, the skill says 50: the stricter bound is used.
  'P1-20260311': { min: 50, max: 20_000 },
  'P2-20260801': { min: 48, max: 50_000 },
};
const DETAILED_GEOMETRY_FACES = 2_000_000;
const LOW_POLY_FACES = { min: 500, max: 20_000 };
/** The widest ceiling of any model; the per-model bound is checked with the model. */
const MAX_FACE_LIMIT = 2_000_000;

/** `fast` exists only with a texture model chosen at generation, which the BFF does not expose. */
const TEXTURE_QUALITIES = ['standard', 'detailed', 'extreme'] as const;
const GEOMETRY_QUALITIES = ['standard', 'detailed'] as const;
const ORIENTATIONS = ['default', 'align_image'] as const;
const TEXTURE_ALIGNMENTS = ['original_image', 'geometry'] as const;
/** Tripo documents seeds as integers without a bound; a 32-bit one is what every client sends. */
const MAX_SEED = 2_147_483_647;

const generationModel = tripoSettings.models.generation;

/** The model a generation request sends: its own `model_version`, else the configured default. */
export function generationModelOf(request: { model_version?: string | undefined }): {
  id: string;
  variable: string | undefined;
} {
  return request.model_version !== undefined
    ? { id: request.model_version, variable: undefined }
    : { id: providerModel(generationModel), variable: generationModel.env };
}

const seedField = intRange(0, MAX_SEED);
const promptField = text(tripoSettings.limits.promptCharacters).refine(
  (value) => !/\p{Extended_Pictographic}/u.test(value),
  { error: 'must not contain emoji (Tripo rejects them)' },
);

/**
 * The guide's `style: "realistic"` is the only style accepted: Tripo v3 documents no `style`, and
 * "realistic" means no stylisation, so nothing is sent and the metadata says so.
 */
const styleField = z.literal('realistic', {
  error: 'must be "realistic" (Tripo offers no other style; it means no stylisation)',
});

const modelVersionField = z
  .string({ error: `must be one of: ${GENERATION_MODELS.join(', ')}` })
  .superRefine((value, context) => {
    if ((GENERATION_MODELS as readonly string[]).includes(value)) return;
    const retired = retiredOn(tripoSettings, value);
    context.addIssue({
      code: 'custom',
      message: retired
        ? `'${value}' was retired by Tripo (${retired}); use one of: ${GENERATION_MODELS.join(', ')}, or omit it for ${generationModel.default}`
        : `must be one of: ${GENERATION_MODELS.join(', ')}`,
    });
  });

/** Options every Tripo generation endpoint takes. */
const generationOptions = {
  model_version: modelVersionField.optional(),
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

/** The Tripo field names the BFF forwards as they are (`model_version` becomes `model`). */
export const GENERATION_KEYS = [
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

/** Combinations Tripo refuses, as 400s naming the field, before anything is billed. */
function checkCombinations(value: GenerationOptions, context: z.RefinementCtx): void {
  const issue = (field: string, message: string) =>
    context.addIssue({ code: 'custom', path: [field], message });
  const untextured = value.texture === false && value.pbr === false;
  // Tripo's texture and pbr default to true, so parts need both switched off explicitly.
  if (value.generate_parts === true && !untextured) {
    issue(
      'generate_parts',
      'requires texture: false and pbr: false (Tripo cannot texture a model split into parts)',
    );
  }
  if (value.orientation === 'align_image' && value.texture === false) {
    issue('orientation', '"align_image" requires texture: true (Tripo aligns the textured model)');
  }
  if (
    typeof value.model_version === 'string' &&
    !(GENERATION_MODELS as readonly string[]).includes(value.model_version)
  ) {
    return; // already reported; the rules below depend on a known model
  }
  const model = generationModelOf(value).id;
  if (isPSeries(model)) {
    // The P series refuses these even when false: they must be left out.
    for (const field of ['smart_low_poly', 'generate_parts', 'geometry_quality'] as const) {
      if (value[field] !== undefined)
        issue(field, `must be omitted with model ${model} (Tripo's P series refuses it)`);
    }
  } else {
    if (value.geometry_quality !== undefined && !H3_MODELS.includes(model)) {
      issue('geometry_quality', `requires model_version ${H3_MODELS.join(' or ')} (the model is ${model})`);
    }
    for (const field of ['smart_low_poly', 'generate_parts'] as const) {
      if (value[field] === true && !H3_MODELS.includes(model)) {
        issue(field, `requires model_version ${H3_MODELS.join(' or ')} (the model is ${model})`);
      }
    }
  }
  const faces = value.face_limit;
  // An out-of-type value is already reported on the field itself.
  if (typeof faces !== 'number' || !Number.isInteger(faces) || faces < 1) return;
  const bounds =
    value.smart_low_poly === true
      ? LOW_POLY_FACES
      : model === 'v3.1-20260211' && value.geometry_quality === 'detailed'
        ? { min: 1, max: DETAILED_GEOMETRY_FACES }
        : (FACE_LIMITS[model] ?? { min: 1, max: MAX_FACE_LIMIT });
  if (faces < bounds.min || faces > bounds.max) {
    const why = value.smart_low_poly === true ? 'with smart_low_poly' : `for model ${model}`;
    issue('face_limit', `must be between ${bounds.min} and ${bounds.max} ${why} (Tripo's range)`);
  }
}

const ALWAYS = { when: () => true };

export const TextToModelSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('tripo'),
    prompt: promptField,
    negative_prompt: text(tripoSettings.limits.negativePromptCharacters).optional(),
    image_seed: seedField.optional(),
    ...generationOptions,
  })
  .superRefine((value, context) => checkCombinations(value as GenerationOptions, context), ALWAYS);
export type TextToModelRequest = z.infer<typeof TextToModelSchema>;

const imageUrlsMessage = 'must be a list of 1 to 4 image URLs: front, then left, back, right';
export const ImageToModelSchema = z
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
    /** Accepted because the guide's example has one; Tripo's image endpoints take no prompt. */
    prompt: text(tripoSettings.limits.promptCharacters).optional(),
    texture_alignment: oneOf(TEXTURE_ALIGNMENTS).optional(),
    orientation: oneOf(ORIENTATIONS).optional(),
    enable_image_autofix: booleanField.optional(),
    ...generationOptions,
  })
  .superRefine((value, context) => checkCombinations(value as GenerationOptions, context), ALWAYS);
export type ImageToModelRequest = z.infer<typeof ImageToModelSchema>;
export const IMAGE_KEYS = [
  ...GENERATION_KEYS,
  'texture_alignment',
  'orientation',
  'enable_image_autofix',
] as const;

/**
 * refine-model re-textures a model guided by `prompt` (Tripo retired geometry refinement): the
 * guide's other refinement fields are checked like the generation ones; `model_version`,
 * `face_limit` and `auto_size` have no meaning for re-texturing and are recorded as not sent.
 */
export const RefineModelSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('tripo'),
  input_model_asset_url: assetUrlField,
  prompt: promptField,
  draft_model_task_id: z
    .string({ error: 'must be a Tripo task id' })
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, {
      error: 'must be a Tripo task id (1-128 characters of A-Z a-z 0-9 . _ : -)',
    })
    .optional(),
  texture: booleanField.optional(),
  pbr: booleanField.optional(),
  texture_quality: oneOf(TEXTURE_QUALITIES).optional(),
  model_version: modelVersionField.optional(),
  face_limit: intRange(1, MAX_FACE_LIMIT).optional(),
  auto_size: booleanField.optional(),
});
export type RefineModelRequest = z.infer<typeof RefineModelSchema>;
export const REFINE_KEYS = ['texture', 'pbr', 'texture_quality'] as const;
export const REFINE_UNSENT_KEYS = ['model_version', 'face_limit', 'auto_size'] as const;

const TRIPO_FACTS = { provider: 'tripo', mode: 'async', resultKind: 'model', reportsProgress: true } as const;

/** What the submit handler needs of each Tripo operation; operations.ts adds the code that runs it. */
export const tripoRequests = {
  'text-to-model': { ...TRIPO_FACTS, schema: TextToModelSchema, inputFields: [] },
  'image-to-model': { ...TRIPO_FACTS, schema: ImageToModelSchema, inputFields: ['input_image_asset_urls'] },
  // Fetched in submit only when needed: a model this service made is referenced by its task id.
  'refine-model': { ...TRIPO_FACTS, schema: RefineModelSchema, inputFields: [] },
} as const satisfies Record<string, OperationRequest>;

import * as z from 'zod';
import { providerModel } from '../../config.ts';
import { assetUrlField, intRange, numberRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { OperationRequest } from '../../operations/operation-request.ts';
import { recraftSettings } from './settings.ts';

/**
 * The requests of the Recraft operations, with Recraft's own limits per model, for the submit
 * handler; operations.ts runs them.
 */

export type Family = 'v2' | 'v3' | 'v4' | 'v4pro';

/**
 * Raster models only: the BFF's results are concept images (PNG/JPEG/WebP) that later steps
 * (image-to-model) read; Recraft's `_vector` models answer SVG.
 */
export const MODEL_FAMILIES: Record<string, Family> = {
  recraftv3: 'v3',
  recraftv2: 'v2',
  recraftv4: 'v4',
  recraftv4_pro: 'v4pro',
  recraftv4_1: 'v4',
  recraftv4_1_pro: 'v4pro',
};
export const GENERATE_MODELS = [
  'recraftv3',
  'recraftv2',
  'recraftv4',
  'recraftv4_pro',
  'recraftv4_1',
  'recraftv4_1_pro',
] as const;
/** Recraft's image-to-image "works with Recraft V3, V4 and V4.1"; inpainting follows it. */
export const EDIT_MODELS = [
  'recraftv3',
  'recraftv4',
  'recraftv4_pro',
  'recraftv4_1',
  'recraftv4_1_pro',
] as const;

/**
 * Always sent, because Recraft's own default has moved to V4.1, which refuses `style`,
 * `substyle` and `negative_prompt`; V3 is the model of the guide's examples and of the earlier
 * implementation, and it takes every field the guide lists.
 */
export const defaultModel = (): string => providerModel(recraftSettings.models.generation);
/** The model that takes style, substyle and negative_prompt, named in messages. */
export const STYLED_MODEL = 'recraftv3';

/**
 * Recraft requires `strength` for image-to-image and documents no default; 0.2 (close to the
 * input) is what the earlier implementation sent (docs/api.md, Generation requests, "Recraft").
 */
export const DEFAULT_STRENGTH = 0.2;

export const MAX_IMAGES = 6;
/** Recraft's appendix: prompts up to 1000 characters for V2/V3, 10000 for V4 and later. */
export const CLASSIC_PROMPT_MAX = 1000;
export const MODERN_PROMPT_MAX = 10_000;
/** Recraft publishes no limit for `negative_prompt` (a V2/V3 field); theirs for prompts is kept. */
export const NEGATIVE_PROMPT_MAX = CLASSIC_PROMPT_MAX;

/** Recraft's appendix: `[aspect, WxH]` per model family; either form is accepted as `size`. */
export const CLASSIC_SIZES = [
  ['1:1', '1024x1024'],
  ['2:1', '2048x1024'],
  ['1:2', '1024x2048'],
  ['3:2', '1536x1024'],
  ['2:3', '1024x1536'],
  ['4:3', '1365x1024'],
  ['3:4', '1024x1365'],
  ['5:4', '1280x1024'],
  ['4:5', '1024x1280'],
  ['6:10', '1024x1707'],
  ['14:10', '1434x1024'],
  ['10:14', '1024x1434'],
  ['16:9', '1820x1024'],
  ['9:16', '1024x1820'],
] as const;
export const V4_SIZES = [
  ['1:1', '1024x1024'],
  ['2:1', '1536x768'],
  ['1:2', '768x1536'],
  ['3:2', '1280x832'],
  ['2:3', '832x1280'],
  ['4:3', '1216x896'],
  ['3:4', '896x1216'],
  ['5:4', '1152x896'],
  ['4:5', '896x1152'],
  ['6:10', '832x1344'],
  ['14:10', '1280x896'],
  ['10:14', '896x1280'],
  ['16:9', '1344x768'],
  ['9:16', '768x1344'],
] as const;
export const V4_PRO_SIZES = [
  ['1:1', '2048x2048'],
  ['2:1', '3072x1536'],
  ['1:2', '1536x3072'],
  ['3:2', '2560x1664'],
  ['2:3', '1664x2560'],
  ['4:3', '2432x1792'],
  ['3:4', '1792x2432'],
  ['5:4', '2304x1792'],
  ['4:5', '1792x2304'],
  ['6:10', '1664x2688'],
  ['14:10', '2560x1792'],
  ['10:14', '1792x2560'],
  ['16:9', '2688x1536'],
  ['9:16', '1536x2688'],
] as const;
export const SIZES: Record<Family, readonly (readonly [string, string])[]> = {
  v2: CLASSIC_SIZES,
  v3: CLASSIC_SIZES,
  v4: V4_SIZES,
  v4pro: V4_PRO_SIZES,
};

/** Raster styles per model (V4 takes none). `vector_illustration` and `icon` answer SVG. */
export const STYLES: Record<'v2' | 'v3', readonly string[]> = {
  v3: ['any', 'realistic_image', 'digital_illustration', 'logo_raster'],
  v2: ['any', 'realistic_image', 'digital_illustration'],
};
export const VECTOR_STYLES = ['vector_illustration', 'icon'];

/**
 * The guide's examples send these as `style_id` next to a `style`. They are placeholders, not
 * Recraft style ids (UUIDs), and Recraft refuses `style` with `style_id`; so, like every guide
 * example value a provider does not take (docs/api.md, Generation requests), they are not sent and the row's metadata says so.
 * Any other non-UUID `style_id` is a 400.
 */
export const GUIDE_PLACEHOLDER_STYLE_IDS = new Set(['custom_style_123', 'custom_style_456']);
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const RESPONSE_FORMATS = ['url', 'b64_json'] as const;

/**
 * Recraft adds substyles over time and checks the style/substyle pair itself; the BFF checks the
 * shape of the name and that it refines a `style` (its 400 names both).
 */
export const substyleField = z
  .string({ error: 'must be a Recraft substyle name such as b_and_w or hand_drawn' })
  .regex(/^[a-z0-9_]{1,64}$/, {
    error: 'must be a Recraft substyle name such as b_and_w or hand_drawn (lowercase letters, digits, _)',
  });
export const styleIdField = z.string({ error: 'must be a Recraft style id (a UUID)' });
export const styleField = z.string({ error: 'must be a string naming a Recraft style' });
export const sizeField = z.string({ error: 'must be a string such as 1024x1024 or 1:1' });

export function issue(context: z.RefinementCtx, path: string, message: string): void {
  context.addIssue({ code: 'custom', path: [path], message });
}

/**
 * Cross-field rules run even when other fields already failed, so one 400 lists every problem;
 * they therefore read the raw values defensively.
 */
export const ALWAYS = { when: () => true };
export type Raw = Record<string, unknown>;

export function checkStyleId(request: Raw, context: z.RefinementCtx): void {
  const styleId = request.style_id;
  if (typeof styleId !== 'string' || GUIDE_PLACEHOLDER_STYLE_IDS.has(styleId)) return;
  if (!UUID.test(styleId)) {
    issue(
      context,
      'style_id',
      'must be a Recraft style id (a UUID such as 229b2a75-05e4-4580-85f9-b47ee521a00d)',
    );
  } else if (request.style !== undefined) {
    issue(context, 'style_id', 'cannot be combined with style: Recraft takes one or the other');
  }
}

export function checkModelRules(
  request: Raw,
  context: z.RefinementCtx,
  models: readonly string[],
  options: { size: boolean },
): void {
  checkStyleId(request, context);
  const model = request.model ?? defaultModel();
  // An unknown model is already reported on `model`; the rules below depend on a known one.
  if (typeof model !== 'string' || !models.includes(model)) return;
  const family = MODEL_FAMILIES[model];
  if (!family) return;
  const classic = family === 'v2' || family === 'v3' ? family : undefined;

  if (classic && typeof request.prompt === 'string' && request.prompt.trim().length > CLASSIC_PROMPT_MAX) {
    issue(
      context,
      'prompt',
      `must be at most ${CLASSIC_PROMPT_MAX} characters for ${model} (${MODERN_PROMPT_MAX} for the V4 models)`,
    );
  }
  if (!classic) {
    for (const field of ['style', 'substyle', 'negative_prompt']) {
      if (request[field] !== undefined) {
        issue(
          context,
          field,
          `is not supported by ${model}: Recraft's V4 models take no style, substyle or negative_prompt (${STYLED_MODEL} does)`,
        );
      }
    }
  } else {
    const allowed = STYLES[classic];
    const style = request.style;
    if (typeof style === 'string' && !allowed.includes(style)) {
      const vector = VECTOR_STYLES.includes(style)
        ? `; ${style} answers SVG, which the BFF does not keep`
        : '';
      issue(
        context,
        'style',
        `must be one of: ${allowed.join(', ')} (Recraft's raster styles for ${model}${vector})`,
      );
    }
    if (request.substyle !== undefined && style === undefined) {
      issue(context, 'substyle', 'requires style: a substyle refines one of the style values');
    }
  }
  if (options.size && typeof request.size === 'string') {
    const table = SIZES[family];
    if (!table.some(([aspect, dimensions]) => request.size === aspect || request.size === dimensions)) {
      issue(
        context,
        'size',
        `must be one of: ${table.map(([, dimensions]) => dimensions).join(', ')} (Recraft's sizes for ${model}; the aspect forms ${table.map(([aspect]) => aspect).join(', ')} are accepted too)`,
      );
    }
  }
}

/** The prompt's outer bound; the per-model limit is checked with the model. */
export const promptField = text(MODERN_PROMPT_MAX);

export const TextToImageSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('recraft'),
    prompt: promptField,
    model: oneOf(GENERATE_MODELS).optional(),
    style: styleField.optional(),
    substyle: substyleField.optional(),
    style_id: styleIdField.optional(),
    negative_prompt: text(NEGATIVE_PROMPT_MAX).optional(),
    n: intRange(1, MAX_IMAGES).optional(),
    response_format: oneOf(RESPONSE_FORMATS).optional(),
    size: sizeField.optional(),
  })
  .superRefine((value, context) => checkModelRules(value, context, GENERATE_MODELS, { size: true }), ALWAYS);

export const ImageToImageSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('recraft'),
    prompt: promptField,
    input_image_asset_url: assetUrlField,
    strength: numberRange(0, 1).optional(),
    model: oneOf(EDIT_MODELS).optional(),
    style: styleField.optional(),
    substyle: substyleField.optional(),
    style_id: styleIdField.optional(),
    negative_prompt: text(NEGATIVE_PROMPT_MAX).optional(),
    n: intRange(1, MAX_IMAGES).optional(),
    response_format: oneOf(RESPONSE_FORMATS).optional(),
  })
  .superRefine((value, context) => checkModelRules(value, context, EDIT_MODELS, { size: false }), ALWAYS);

export const InpaintSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('recraft'),
    prompt: promptField,
    input_image_asset_url: assetUrlField,
    input_mask_asset_url: assetUrlField,
    model: oneOf(EDIT_MODELS).optional(),
    style: styleField.optional(),
    substyle: substyleField.optional(),
    style_id: styleIdField.optional(),
    negative_prompt: text(NEGATIVE_PROMPT_MAX).optional(),
    n: intRange(1, MAX_IMAGES).optional(),
    /** Not in the guide's inpaint field list, but Recraft's inpaint takes it like every other Recraft tool. */
    response_format: oneOf(RESPONSE_FORMATS).optional(),
  })
  .superRefine((value, context) => checkModelRules(value, context, EDIT_MODELS, { size: false }), ALWAYS);

export const RemoveBackgroundSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('recraft'),
  input_image_asset_url: assetUrlField,
  response_format: oneOf(RESPONSE_FORMATS).optional(),
});

export const UpscaleSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('recraft'),
  input_image_asset_url: assetUrlField,
  /** The guide's only value; it picks the endpoint and is not itself sent. */
  model: oneOf(['crisp']).optional(),
  response_format: oneOf(RESPONSE_FORMATS).optional(),
});

export type TextToImageRequest = z.infer<typeof TextToImageSchema>;
export type ImageToImageRequest = z.infer<typeof ImageToImageSchema>;
export type InpaintRequest = z.infer<typeof InpaintSchema>;

/** What the submit handler needs of each Recraft operation; operations.ts adds the code that runs it. */
export const recraftRequests = {
  'text-to-image': {
    provider: 'recraft',
    mode: 'sync',
    schema: TextToImageSchema,
    inputFields: [],
    resultKind: 'image',
    reportsProgress: false,
  },
  'image-to-image': {
    provider: 'recraft',
    mode: 'sync',
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
  },
  'image-inpaint': {
    provider: 'recraft',
    mode: 'sync',
    schema: InpaintSchema,
    inputFields: ['input_image_asset_url', 'input_mask_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
  },
  'remove-background': {
    provider: 'recraft',
    mode: 'sync',
    schema: RemoveBackgroundSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
  },
  upscale: {
    provider: 'recraft',
    mode: 'sync',
    schema: UpscaleSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
  },
} as const satisfies Record<string, OperationRequest>;

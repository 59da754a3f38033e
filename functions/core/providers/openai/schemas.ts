import * as z from 'zod';
import { providerModel } from '../../config.ts';
import { assetUrlField, intRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type { OperationRequest } from '../../operations/operation-request.ts';
import { type ModelSetting, retiredOn } from '../provider-settings.ts';
import { openaiSettings } from './settings.ts';

/**
 * The requests of the OpenAI image operations, with the GPT image models' own rules, for the
 * submit handler; operations.ts runs them (rules and their sources: operations.ts).
 */

export const QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
export const HIGHER_QUALITIES = ['xhigh', 'max'] as const;
/** The guide's DALL·E values, and what the GPT image models take in their place. */
export const DALL_E_QUALITY: Record<string, string> = { standard: 'medium', hd: 'high' };
export const STYLES = ['vivid', 'natural'] as const;
export const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
/** Transparency needs an alpha channel: PNG or WebP, never JPEG. */
export const ALPHA_FORMATS: readonly string[] = ['png', 'webp'];
export const COMPLEXITIES = ['low', 'medium', 'high'] as const;
export const STANDARD_SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536'];
export const MAX_LONG_SIDE = 3840;
export const MAX_SHORT_SIDE = 2160;
export const MAX_ASPECT_RATIO = 3;
export const PIXEL_BOUNDS = { min: 655_360, max: 8_294_400 };

/** The 2.x generation of a model id (2, 2.5, 2.6), or undefined for other ids. */
export function generationOf(model: string): number | undefined {
  const match = /^gpt-image-(\d+(?:\.\d+)?)(?:-|$)/.exec(model);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A problem with a custom `WxH` size for this model, or undefined when it is valid. */
export function sizeProblem(size: string, model: string): string | undefined {
  if (STANDARD_SIZES.includes(size)) return undefined;
  const match = /^(\d{2,5})x(\d{2,5})$/.exec(size);
  if (!match) return `must be auto, ${STANDARD_SIZES.slice(1).join(', ')} or WIDTHxHEIGHT`;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (width % 16 !== 0 || height % 16 !== 0) return 'must have a width and height divisible by 16';
  if (long > MAX_LONG_SIDE || short > MAX_SHORT_SIDE)
    return `must be at most ${MAX_LONG_SIDE}x${MAX_SHORT_SIDE}`;
  if (long / short > MAX_ASPECT_RATIO) return 'must have an aspect ratio between 1:3 and 3:1';
  const generation = generationOf(model) ?? 0;
  const pixels = width * height;
  if (generation >= 2.5 && (pixels < PIXEL_BOUNDS.min || pixels > PIXEL_BOUNDS.max)) {
    return `must have between ${PIXEL_BOUNDS.min} and ${PIXEL_BOUNDS.max} pixels for ${model}`;
  }
  return undefined;
}

/** The model field: optional, a current GPT image model; a retired one is named as such. */
export function modelField(setting: ModelSetting) {
  const format = `must be an OpenAI GPT image model id, such as ${setting.default}`;
  return z
    .string({ error: format })
    .superRefine((value, context) => {
      const date = retiredOn(openaiSettings, value);
      if (date) {
        context.addIssue({
          code: 'custom',
          message: `'${value}' was shut down by OpenAI on ${date}; omit model to use ${setting.default}`,
        });
      } else if (!/^gpt-image-[A-Za-z0-9.-]{1,60}$/.test(value)) {
        context.addIssue({ code: 'custom', message: format });
      }
    })
    .optional();
}

/**
 * The fields both operations share. `quality` takes the guide's DALL·E values too (translated);
 * the model-dependent rules run once the model is known.
 */
export function imageRequestShape(setting: ModelSetting) {
  return {
    task_id: taskIdField,
    provider: z.literal('openai'),
    prompt: text(openaiSettings.limits.promptCharacters),
    model: modelField(setting),
    n: intRange(1, openaiSettings.limits.images).default(1),
    size: z.string({ error: 'must be a string such as 1024x1024' }).optional(),
    quality: oneOf([...QUALITIES, ...HIGHER_QUALITIES, 'standard', 'hd']).optional(),
    style: oneOf(STYLES).optional(),
    background: oneOf(BACKGROUNDS).optional(),
    output_format: oneOf(OUTPUT_FORMATS).optional(),
    complexity: oneOf(COMPLEXITIES).optional(),
  };
}

export type Raw = Record<string, unknown>;

/** Cross-field rules; they read raw values, since other fields may already have failed. */
export function modelRules(setting: ModelSetting) {
  return (value: Raw, context: z.RefinementCtx): void => {
    const issue = (path: string, message: string) =>
      context.addIssue({ code: 'custom', path: [path], message });
    const model = typeof value.model === 'string' ? value.model : providerModel(setting);
    const generation = generationOf(model) ?? 0;
    if (typeof value.size === 'string') {
      const problem = sizeProblem(value.size, model);
      if (problem) issue('size', problem);
    }
    if (
      typeof value.quality === 'string' &&
      (HIGHER_QUALITIES as readonly string[]).includes(value.quality)
    ) {
      if (generation < 2.5)
        issue(
          'quality',
          `"${value.quality}" needs gpt-image-2.5 or later; ${model} takes low, medium, high or auto`,
        );
    }
    if (value.complexity !== undefined && generation < 2.6) {
      issue('complexity', `is supported by gpt-image-2.6 models only, not ${model}`);
    }
    if (
      value.background === 'transparent' &&
      typeof value.output_format === 'string' &&
      !ALPHA_FORMATS.includes(value.output_format)
    ) {
      issue('output_format', 'must be png or webp with background "transparent" (JPEG has no transparency)');
    }
  };
}

export const textToImageSetting = openaiSettings.models.textToImage;
export const imageToImageSetting = openaiSettings.models.imageToImage;
export const ALWAYS = { when: () => true };

export const TextToImageSchema = z
  .object(imageRequestShape(textToImageSetting))
  .superRefine((value, context) => modelRules(textToImageSetting)(value as Raw, context), ALWAYS);

export const ImageToImageSchema = z
  .object({ ...imageRequestShape(imageToImageSetting), input_image_asset_url: assetUrlField })
  .superRefine((value, context) => modelRules(imageToImageSetting)(value as Raw, context), ALWAYS);

export type ImageRequest = z.infer<typeof TextToImageSchema>;

/** The request as OpenAI's GPT image models take it, and what was translated on the way. */

/** What the submit handler needs of each OpenAI operation; operations.ts adds the code that runs it. */
export const openaiRequests = {
  'text-to-image': {
    provider: 'openai',
    mode: 'sync',
    schema: TextToImageSchema,
    inputFields: [],
    resultKind: 'image',
    reportsProgress: false,
  },
  'image-to-image': {
    provider: 'openai',
    mode: 'sync',
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
  },
} as const satisfies Record<string, OperationRequest>;

import { toFile } from 'openai';
import type {
  ImageEditParamsNonStreaming,
  ImageGenerateParamsNonStreaming,
  ImagesResponse,
} from 'openai/resources/images';
import { z } from 'zod';
import { providerModel } from '../../config.ts';
import { InputInvalidError, ProviderRejectedError } from '../../errors.ts';
import { checkImageHeader } from '../../images/input-check.ts';
import { assetUrlField, intRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type {
  GeneratedFile,
  SyncProviderOperation,
  SyncRunResult,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { type ModelSetting, retiredOn } from '../provider-settings.ts';
import { type ModelChoice, OPENAI_LABEL, openaiClient, translateOpenaiError } from './client.ts';
import { openaiSettings } from './settings.ts';

/**
 * OpenAI Images on the GPT image models (docs/providers/openai.md). text-to-image →
 * `POST /images/generations`, image-to-image → `POST /images/edits`, each one request whatever
 * `n` is. The guide's DALL·E-era fields are translated (api docs, "OpenAI"): `quality` standard →
 * medium and hd → high, `style` appended to the prompt as `Style: <style>.`, `background:
 * transparent` forces PNG; every translation is recorded in the row's metadata.
 *
 * Field rules are from openai@7.59.0 (resources/images.d.ts, published 2026-11-17, checked
 * 2026-12-02): quality low/medium/high/auto on every GPT image model, xhigh/max on 2.5 and later;
 * `complexity` on 2.6 only; sizes `auto`, the three standard sizes, or `WxH` with both sides
 * divisible by 16, aspect ratio between 1:3 and 3:1, at most 3840x2160; 2.5 and 2.6 also need
 * 655,360–8,294,400 pixels (docs.comfy.org OpenAIGPTImageNodeV3, third-party, 2026-11).
 */

const QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
const HIGHER_QUALITIES = ['xhigh', 'max'] as const;
/** The guide's DALL·E values, and what the GPT image models take in their place. */
const DALL_E_QUALITY: Record<string, string> = { standard: 'medium', hd: 'high' };
const STYLES = ['vivid', 'natural'] as const;
const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
/** Transparency needs an alpha channel: PNG or WebP, never JPEG. */
const ALPHA_FORMATS: readonly string[] = ['png', 'webp'];
const COMPLEXITIES = ['low', 'medium', 'high'] as const;
const STANDARD_SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536'];
const MAX_LONG_SIDE = 3840;
const MAX_SHORT_SIDE = 2160;
const MAX_ASPECT_RATIO = 3;
const PIXEL_BOUNDS = { min: 655_360, max: 8_294_400 };

/** The 2.x generation of a model id (2, 2.5, 2.6), or undefined for other ids. */
function generationOf(model: string): number | undefined {
  const match = /^gpt-image-(\d+(?:\.\d+)?)(?:-|$)/.exec(model);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A problem with a custom `WxH` size for this model, or undefined when it is valid. */
function sizeProblem(size: string, model: string): string | undefined {
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
function modelField(setting: ModelSetting) {
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
function imageRequestShape(setting: ModelSetting) {
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

type Raw = Record<string, unknown>;

/** Cross-field rules; they read raw values, since other fields may already have failed. */
function modelRules(setting: ModelSetting) {
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

const textToImageSetting = openaiSettings.models.textToImage;
const imageToImageSetting = openaiSettings.models.imageToImage;
const ALWAYS = { when: () => true };

const TextToImageSchema = z
  .object(imageRequestShape(textToImageSetting))
  .superRefine((value, context) => modelRules(textToImageSetting)(value as Raw, context), ALWAYS);

const ImageToImageSchema = z
  .object({ ...imageRequestShape(imageToImageSetting), input_image_asset_url: assetUrlField })
  .superRefine((value, context) => modelRules(imageToImageSetting)(value as Raw, context), ALWAYS);

type ImageRequest = z.infer<typeof TextToImageSchema>;

/** The request as OpenAI's GPT image models take it, and what was translated on the way. */
function translate(request: ImageRequest, setting: ModelSetting) {
  const choice: ModelChoice = request.model
    ? { model: request.model, variable: undefined }
    : { model: providerModel(setting), variable: setting.env };
  const quality = request.quality ? (DALL_E_QUALITY[request.quality] ?? request.quality) : undefined;
  const outputFormat = request.output_format ?? (request.background === 'transparent' ? 'png' : undefined);
  const fields = {
    model: choice.model,
    // A space, not a newline: multipart bodies turn newlines into CRLF on the way.
    prompt: request.style ? `${request.prompt} Style: ${request.style}.` : request.prompt,
    n: request.n,
    ...(request.size ? { size: request.size } : {}),
    ...(quality ? { quality: quality as 'medium' } : {}),
    ...(request.background ? { background: request.background } : {}),
    ...(outputFormat ? { output_format: outputFormat } : {}),
    ...(request.complexity ? { complexity: request.complexity } : {}),
  };
  const sent = {
    model: choice.model,
    model_from: choice.variable ?? 'request',
    n: request.n,
    ...(quality && quality !== request.quality
      ? { quality: quality, quality_translated_from: request.quality }
      : {}),
    ...(request.style ? { style_applied_as: `prompt suffix "Style: ${request.style}."` } : {}),
    ...(outputFormat && request.output_format === undefined
      ? { output_format: outputFormat, output_format_reason: 'background "transparent" needs PNG' }
      : {}),
  };
  return { choice, fields, sent };
}

function decodeImages(response: ImagesResponse): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  for (const item of response.data ?? []) {
    if (!item.b64_json) continue;
    const bytes = Buffer.from(item.b64_json, 'base64');
    const kind = sniffFileKind(bytes);
    if (!kind) throw new ProviderRejectedError(`${OPENAI_LABEL} returned data that is not an image`);
    files.push({ bytes, contentType: kind.contentType, extension: kind.extension });
  }
  if (files.length === 0) throw new ProviderRejectedError(`${OPENAI_LABEL} returned no image`);
  return files;
}

async function generate(request: ImageRequest, signal?: AbortSignal): Promise<SyncRunResult> {
  const { choice, fields, sent } = translate(request, textToImageSetting);
  const openai = await openaiClient();
  try {
    const body: ImageGenerateParamsNonStreaming = fields;
    const response = await openai.images.generate(body, { signal });
    return { files: decodeImages(response), sent: { endpoint: 'images/generations', ...sent } };
  } catch (error) {
    throw translateOpenaiError(error, choice);
  }
}

async function edit(
  request: ImageRequest,
  input: FetchedInput,
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  // Format and size from the header, before anything is sent: OpenAI would otherwise decode it.
  const kind = checkImageHeader(input, openaiSettings.inputImages['image-to-image']);
  const { choice, fields, sent } = translate(request, imageToImageSetting);
  const openai = await openaiClient();
  try {
    // The SDK mis-encodes a bare Buffer; toFile gives the part its real name and type.
    const image = await toFile(input.bytes, `input.${kind.extension}`, { type: kind.contentType });
    const body: ImageEditParamsNonStreaming = { ...fields, image };
    const response = await openai.images.edit(body, { signal });
    return { files: decodeImages(response), sent: { endpoint: 'images/edits', ...sent } };
  } catch (error) {
    throw translateOpenaiError(error, choice);
  }
}

export const openaiOperations = {
  'text-to-image': {
    provider: 'openai',
    mode: 'sync',
    schema: TextToImageSchema,
    inputFields: [],
    resultKind: 'image',
    reportsProgress: false,
    run: (params, _inputs, context) => generate(TextToImageSchema.parse(params), context.signal),
  },
  'image-to-image': {
    provider: 'openai',
    mode: 'sync',
    schema: ImageToImageSchema,
    inputFields: ['input_image_asset_url'],
    resultKind: 'image',
    reportsProgress: false,
    run: async (params, inputs, context) => {
      const [input] = inputs;
      if (!input) throw new InputInvalidError('input_image_asset_url is required');
      return edit(ImageToImageSchema.parse(params), input, context.signal);
    },
  },
} satisfies Record<string, SyncProviderOperation>;

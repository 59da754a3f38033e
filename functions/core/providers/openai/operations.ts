import { toFile } from 'openai';
import type { ImagesResponse } from 'openai/resources/images';
import { z } from 'zod';
import { InputInvalidError, ProviderRejectedError } from '../../errors.ts';
import { webImageKind } from '../../images/formats.ts';
import { assetUrlField, intRange, oneOf, taskIdField, text } from '../../operations/fields.ts';
import type {
  GeneratedFile,
  SyncProviderOperation,
  SyncRunResult,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import { OPENAI_LABEL, openaiClient, translateOpenaiError } from './client.ts';

/**
 * OpenAI Images (provider-contracts.md §2). text-to-image → `images.generate`, image-to-image →
 * `images.edit`. Field limits are OpenAI's per model; where the guide is wider, the 400 says so.
 */

const DALL_E_3 = 'dall-e-3';
const GPT_IMAGE_MODELS = ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5'] as const;
const DALL_E_3_SIZES = ['1024x1024', '1792x1024', '1024x1792'] as const;
const GPT_IMAGE_SIZES = ['1024x1024', '1536x1024', '1024x1536', 'auto'] as const;
const DALL_E_3_QUALITIES = ['standard', 'hd'] as const;
const GPT_GENERATE_QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
const GPT_EDIT_QUALITIES = ['standard', 'low', 'medium', 'high', 'auto'] as const;
const STYLES = ['vivid', 'natural'] as const;
const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
/** The guide allows 1–4 images per request. */
const MAX_IMAGES = 4;

function issue(context: z.RefinementCtx, path: string, message: string): void {
  context.addIssue({ code: 'custom', path: [path], message });
}

function checkAllowed(
  context: z.RefinementCtx,
  field: string,
  value: unknown,
  allowed: readonly string[],
  model: string,
): void {
  if (typeof value === 'string' && !allowed.includes(value)) {
    issue(context, field, `must be one of: ${allowed.join(', ')} (OpenAI's values for ${model})`);
  }
}

/**
 * Cross-field rules run even when other fields already failed, so one 400 lists every problem;
 * they therefore read the raw values defensively.
 */
const ALWAYS = { when: () => true };
type Raw = Record<string, unknown>;

const TextToImageSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('openai'),
    prompt: text(32000),
    model: oneOf([DALL_E_3, ...GPT_IMAGE_MODELS]).default(DALL_E_3),
    n: intRange(1, MAX_IMAGES).default(1),
    size: z.string({ error: 'must be a string such as 1024x1024' }).optional(),
    quality: z.string({ error: 'must be a string' }).optional(),
    style: oneOf(STYLES).optional(),
    background: oneOf(BACKGROUNDS).optional(),
  })
  .superRefine((value, context) => {
    const request = value as Raw;
    const model = request.model ?? DALL_E_3;
    if (model === DALL_E_3) {
      if (typeof request.prompt === 'string' && request.prompt.length > 4000) {
        issue(context, 'prompt', 'must be at most 4000 characters for dall-e-3');
      }
      checkAllowed(context, 'size', request.size, DALL_E_3_SIZES, DALL_E_3);
      checkAllowed(context, 'quality', request.quality, DALL_E_3_QUALITIES, DALL_E_3);
      if (request.background !== undefined) {
        issue(
          context,
          'background',
          `is only supported by the GPT image models (${GPT_IMAGE_MODELS.join(', ')})`,
        );
      }
    } else if (typeof model === 'string' && (GPT_IMAGE_MODELS as readonly string[]).includes(model)) {
      checkAllowed(context, 'size', request.size, GPT_IMAGE_SIZES, model);
      checkAllowed(context, 'quality', request.quality, GPT_GENERATE_QUALITIES, model);
    }
  }, ALWAYS);

const ImageToImageSchema = z
  .object({
    task_id: taskIdField,
    provider: z.literal('openai'),
    prompt: text(32000),
    input_image_asset_url: assetUrlField,
    model: oneOf(GPT_IMAGE_MODELS).default('gpt-image-1'),
    n: intRange(1, MAX_IMAGES).default(1),
    size: z.string({ error: 'must be a string such as 1024x1024' }).optional(),
    quality: z.string({ error: 'must be a string' }).optional(),
    style: oneOf(STYLES).optional(),
    background: oneOf(BACKGROUNDS).optional(),
  })
  .superRefine((value, context) => {
    const request = value as Raw;
    const model = typeof request.model === 'string' ? request.model : 'gpt-image-1';
    checkAllowed(context, 'size', request.size, GPT_IMAGE_SIZES, `${model} image edits`);
    checkAllowed(context, 'quality', request.quality, GPT_EDIT_QUALITIES, `${model} image edits`);
  }, ALWAYS);

type TextToImageRequest = z.infer<typeof TextToImageSchema>;
type ImageToImageRequest = z.infer<typeof ImageToImageSchema>;

/**
 * GPT image models take no `style`; the guide's examples send one, so it is applied the way the
 * earlier implementation did, as a suffix to the prompt, and recorded in the row's metadata.
 */
function promptWithStyle(prompt: string, style: string | undefined): string {
  return style ? `${prompt}\n\nStyle: ${style}.` : prompt;
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

async function generate(request: TextToImageRequest, signal?: AbortSignal): Promise<SyncRunResult> {
  const openai = await openaiClient();
  const isDallE3 = request.model === DALL_E_3;
  const base = {
    model: request.model,
    prompt: isDallE3 ? request.prompt : promptWithStyle(request.prompt, request.style),
    ...(request.size ? { size: request.size as (typeof DALL_E_3_SIZES)[number] } : {}),
    ...(request.quality ? { quality: request.quality as 'standard' } : {}),
    ...(isDallE3 && request.style ? { style: request.style } : {}),
    ...(!isDallE3 && request.background ? { background: request.background } : {}),
    ...(isDallE3 ? { response_format: 'b64_json' as const } : {}),
  };
  try {
    // dall-e-3 makes one image per call (n must be 1), so n images are n calls in parallel.
    const responses = isDallE3
      ? await Promise.all(
          Array.from({ length: request.n }, () => openai.images.generate({ ...base, n: 1 }, { signal })),
        )
      : [await openai.images.generate({ ...base, n: request.n }, { signal })];
    return {
      files: responses.flatMap(decodeImages),
      sent: {
        endpoint: 'images/generations',
        model: request.model,
        calls: isDallE3 ? request.n : 1,
        ...(!isDallE3 && request.style ? { style_applied_as: 'prompt suffix' } : {}),
      },
    };
  } catch (error) {
    throw translateOpenaiError(error);
  }
}

async function edit(
  request: ImageToImageRequest,
  input: Buffer,
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const kind = webImageKind(input);
  if (!kind) {
    throw new InputInvalidError(
      'input_image_asset_url must be a PNG, JPEG or WebP image for OpenAI image edits',
    );
  }
  const openai = await openaiClient();
  try {
    // The SDK mis-encodes a bare Buffer; toFile gives the part its real name and type.
    const image = await toFile(input, `input.${kind.extension}`, { type: kind.contentType });
    const response = await openai.images.edit(
      {
        image,
        model: request.model,
        prompt: promptWithStyle(request.prompt, request.style),
        n: request.n,
        ...(request.size ? { size: request.size as (typeof GPT_IMAGE_SIZES)[number] } : {}),
        ...(request.quality ? { quality: request.quality as 'standard' } : {}),
        ...(request.background ? { background: request.background } : {}),
      },
      { signal },
    );
    return {
      files: decodeImages(response),
      sent: {
        endpoint: 'images/edits',
        model: request.model,
        ...(request.style ? { style_applied_as: 'prompt suffix' } : {}),
      },
    };
  } catch (error) {
    throw translateOpenaiError(error);
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
      return edit(ImageToImageSchema.parse(params), input.bytes, context.signal);
    },
  },
} satisfies Record<string, SyncProviderOperation>;

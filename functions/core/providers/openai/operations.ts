import { toFile } from 'openai';
import type {
  ImageEditParamsNonStreaming,
  ImageGenerateParamsNonStreaming,
  ImagesResponse,
} from 'openai/resources/images';
import { providerModel } from '../../config.ts';
import { InputInvalidError, ProviderRejectedError } from '../../errors.ts';
import { checkImageHeader } from '../../images/input-check.ts';
import type {
  GeneratedFile,
  SyncProviderOperation,
  SyncRunResult,
} from '../../operations/provider-operation.ts';
import { sniffFileKind } from '../../storage/content-type.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import type { ModelSetting } from '../provider-settings.ts';
import { type ModelChoice, OPENAI_LABEL, openaiClient, translateOpenaiError } from './client.ts';
import {
  DALL_E_QUALITY,
  type ImageRequest,
  ImageToImageSchema,
  imageToImageSetting,
  openaiRequests,
  TextToImageSchema,
  textToImageSetting,
} from './schemas.ts';
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
    ...openaiRequests['text-to-image'],
    run: (params, _inputs, context) => generate(TextToImageSchema.parse(params), context.signal),
  },
  'image-to-image': {
    ...openaiRequests['image-to-image'],
    run: async (params, inputs, context) => {
      const [input] = inputs;
      if (!input) throw new InputInvalidError('input_image_asset_url is required');
      return edit(ImageToImageSchema.parse(params), input, context.signal);
    },
  },
} satisfies Record<string, SyncProviderOperation>;

import { InputInvalidError } from '../../errors.ts';
import type { SyncProviderOperation, SyncRunResult } from '../../operations/provider-operation.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import {
  generatedImages,
  processedImage,
  type RecraftResult,
  recraftConnection,
  recraftPost,
} from './client.ts';
import { type CheckedImage, checkInputImage, checkMask, type SideLimits, toolLimits } from './input-image.ts';
import {
  DEFAULT_STRENGTH,
  defaultModel,
  GUIDE_PLACEHOLDER_STYLE_IDS,
  type ImageToImageRequest,
  ImageToImageSchema,
  type InpaintRequest,
  InpaintSchema,
  RemoveBackgroundSchema,
  recraftRequests,
  type TextToImageRequest,
  TextToImageSchema,
  UpscaleSchema,
} from './schemas.ts';

/**
 * Recraft (docs/providers/recraft.md): text-to-image → `/v1/images/generations` (JSON);
 * image-to-image → `imageToImage`, image-inpaint → `inpaint`, remove-background →
 * `removeBackground`, upscale → `crispUpscale` (multipart, files `image` / `mask`). Every call is
 * synchronous. Only the fields Recraft takes for the chosen model are sent (docs/providers/recraft.md, "Fields and limits checked").
 */

type Scalar = string | number | undefined;

/** The style fields as Recraft receives them, and what the BFF left out (for the metadata). */
function styleFields(request: { style?: string; substyle?: string; style_id?: string }): {
  fields: Record<string, Scalar>;
  notSent: Record<string, string>;
} {
  const placeholder = request.style_id !== undefined && GUIDE_PLACEHOLDER_STYLE_IDS.has(request.style_id);
  return {
    fields: {
      style: request.style,
      substyle: request.substyle,
      style_id: placeholder ? undefined : request.style_id,
    },
    notSent: placeholder
      ? { style_id: `'${request.style_id}' is the guide's placeholder, not a Recraft style id (a UUID)` }
      : {},
  };
}

/** `sent` for the row's metadata: endpoint and model, plus defaults applied and fields left out. */
function sentFacts(
  endpoint: string,
  extra: Record<string, unknown>,
  defaults: Record<string, unknown>,
  notSent: Record<string, string>,
): Record<string, unknown> {
  return {
    endpoint,
    ...extra,
    ...(Object.keys(defaults).length > 0 ? { defaults } : {}),
    ...(Object.keys(notSent).length > 0 ? { not_sent: notSent } : {}),
  };
}

function withoutUndefined(fields: Record<string, Scalar>): Record<string, string | number> {
  const defined: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) defined[name] = value;
  return defined;
}

/** A multipart body: the input files under Recraft's part names, then the text fields. */
function multipart(files: Record<string, CheckedImage>, fields: Record<string, Scalar>): FormData {
  const form = new FormData();
  for (const [part, image] of Object.entries(files)) {
    form.append(
      part,
      new File([new Uint8Array(image.bytes)], `${part}.${image.extension}`, { type: image.contentType }),
    );
  }
  for (const [name, value] of Object.entries(withoutUndefined(fields))) form.append(name, String(value));
  return form;
}

function inputFor(inputs: FetchedInput[], field: string): FetchedInput {
  const input = inputs.find((candidate) => candidate.field === field);
  if (!input) throw new InputInvalidError(`${field} is required`);
  return input;
}

function result(recraft: RecraftResult, sent: Record<string, unknown>): SyncRunResult {
  return { files: recraft.files, sent, facts: recraft.facts };
}

async function generate(request: TextToImageRequest, signal?: AbortSignal): Promise<SyncRunResult> {
  const model = request.model ?? defaultModel();
  const style = styleFields(request);
  const connection = await recraftConnection();
  const body = withoutUndefined({
    prompt: request.prompt,
    model,
    ...style.fields,
    negative_prompt: request.negative_prompt,
    n: request.n,
    response_format: request.response_format,
    size: request.size,
  });
  const answer = await recraftPost(connection, 'generations', body, signal);
  return result(
    await generatedImages(answer, connection),
    sentFacts(
      '/v1/images/generations',
      { model },
      request.model === undefined ? { model } : {},
      style.notSent,
    ),
  );
}

async function imageToImage(
  request: ImageToImageRequest,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const image = checkInputImage(inputFor(inputs, 'input_image_asset_url'), toolLimits('image-to-image'));
  const model = request.model ?? defaultModel();
  const strength = request.strength ?? DEFAULT_STRENGTH;
  const style = styleFields(request);
  const connection = await recraftConnection();
  const form = multipart(
    { image },
    {
      prompt: request.prompt,
      strength,
      model,
      ...style.fields,
      negative_prompt: request.negative_prompt,
      n: request.n,
      response_format: request.response_format,
    },
  );
  const answer = await recraftPost(connection, 'imageToImage', form, signal);
  return result(
    await generatedImages(answer, connection),
    sentFacts(
      '/v1/images/imageToImage',
      { model, strength },
      {
        ...(request.model === undefined ? { model } : {}),
        ...(request.strength === undefined ? { strength } : {}),
      },
      style.notSent,
    ),
  );
}

async function inpaint(
  request: InpaintRequest,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const limits = toolLimits('image-inpaint');
  // Both files pass the header check before the mask is decoded.
  const image = checkInputImage(inputFor(inputs, 'input_image_asset_url'), limits);
  const mask = checkInputImage(inputFor(inputs, 'input_mask_asset_url'), limits);
  await checkMask(mask, image);
  const model = request.model ?? defaultModel();
  const style = styleFields(request);
  const connection = await recraftConnection();
  const form = multipart(
    { image, mask },
    {
      prompt: request.prompt,
      model,
      ...style.fields,
      negative_prompt: request.negative_prompt,
      n: request.n,
      response_format: request.response_format,
    },
  );
  const answer = await recraftPost(connection, 'inpaint', form, signal);
  return result(
    await generatedImages(answer, connection),
    sentFacts('/v1/images/inpaint', { model }, request.model === undefined ? { model } : {}, style.notSent),
  );
}

/** Remove background and crisp upscale: one image in (`image`, not the legacy `file`), one out. */
async function processImage(
  operation: 'removeBackground' | 'crispUpscale',
  limits: SideLimits,
  responseFormat: string | undefined,
  inputs: FetchedInput[],
  signal?: AbortSignal,
): Promise<SyncRunResult> {
  const image = checkInputImage(inputFor(inputs, 'input_image_asset_url'), limits);
  const connection = await recraftConnection();
  const form = multipart({ image }, { response_format: responseFormat });
  const answer = await recraftPost(connection, operation, form, signal);
  return result(await processedImage(answer, connection), { endpoint: `/v1/images/${operation}` });
}

export const recraftOperations = {
  'text-to-image': {
    ...recraftRequests['text-to-image'],
    run: (params, _inputs, context) => generate(TextToImageSchema.parse(params), context.signal),
  },
  'image-to-image': {
    ...recraftRequests['image-to-image'],
    run: (params, inputs, context) => imageToImage(ImageToImageSchema.parse(params), inputs, context.signal),
  },
  'image-inpaint': {
    ...recraftRequests['image-inpaint'],
    run: (params, inputs, context) => inpaint(InpaintSchema.parse(params), inputs, context.signal),
  },
  'remove-background': {
    ...recraftRequests['remove-background'],
    run: (params, inputs, context) =>
      processImage(
        'removeBackground',
        toolLimits('remove-background'),
        RemoveBackgroundSchema.parse(params).response_format,
        inputs,
        context.signal,
      ),
  },
  upscale: {
    ...recraftRequests.upscale,
    run: (params, inputs, context) =>
      processImage(
        'crispUpscale',
        toolLimits('upscale'),
        UpscaleSchema.parse(params).response_format,
        inputs,
        context.signal,
      ),
  },
} satisfies Record<string, SyncProviderOperation>;

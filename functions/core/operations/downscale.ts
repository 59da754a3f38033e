import { z } from 'zod';
import { InputInvalidError } from '../errors.ts';
import { downscaleImage } from '../images/downscale.ts';
import { assetUrlField, numberRange, oneOf, taskIdField } from './fields.ts';
import type { SyncProviderOperation } from './provider-operation.ts';

/** 1 MB = 1,048,576 bytes, as clients of the earlier implementation expect (contract §6). */
const BYTES_PER_MB = 1024 * 1024;

const DownscaleSchema = z.object({
  task_id: taskIdField,
  provider: z.literal('bff'),
  input_image_asset_url: assetUrlField,
  max_size_mb: numberRange(0.1, 20),
  aspect_ratio_mode: oneOf(['original', 'square']),
  output_format: oneOf(['original', 'jpeg', 'png']).default('original'),
});

/**
 * `downscale` is image processing inside the BFF (no provider): the largest dimensions and best
 * quality that fit `max_size_mb`, optionally padded to a square. It runs in its own Lambda (the
 * state machine's ProcessImage state), sized for decoding 50-megapixel images.
 */
export const downscaleOperation: SyncProviderOperation = {
  provider: 'bff',
  mode: 'sync',
  runsOn: 'image-processing',
  schema: DownscaleSchema,
  inputFields: ['input_image_asset_url'],
  resultKind: 'image',
  reportsProgress: false,
  async run(params, inputs) {
    const request = DownscaleSchema.parse(params);
    const [input] = inputs;
    if (!input) throw new InputInvalidError('input_image_asset_url is required');
    const result = await downscaleImage(input.bytes, {
      maxBytes: Math.floor(request.max_size_mb * BYTES_PER_MB),
      aspectRatioMode: request.aspect_ratio_mode,
      outputFormat: request.output_format,
    });
    return {
      files: [{ bytes: result.bytes, contentType: result.contentType, extension: result.extension }],
      sent: {},
      facts: { ...result.facts },
    };
  },
};

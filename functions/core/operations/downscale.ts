import { InputInvalidError } from '../errors.ts';
import { downscaleImage } from '../images/downscale.ts';
import { checkImageHeader, type ImageLimits } from '../images/input-check.ts';
import { DownscaleSchema, downscaleRequest } from './downscale-request.ts';
import type { SyncProviderOperation } from './provider-operation.ts';

/** 1 MB = 1,048,576 bytes, as clients of the earlier implementation expect (docs/api.md, Downscale). */
const BYTES_PER_MB = 1024 * 1024;

/**
 * What downscale decodes: every format the codecs read, up to 50 megapixels, the service's own
 * input cap. Decoding holds 4 bytes a pixel plus the resize buffers, so the pixel count, read from
 * the header before any decode, is what bounds the Lambda's memory (sized for this cap).
 */
export const DOWNSCALE_INPUT_LIMITS: ImageLimits = {
  service: 'the downscale operation',
  formats: ['jpeg', 'png', 'gif', 'webp', 'bmp', 'tiff'],
  maxPixels: 50_000_000,
  source: "this service's input contract (JPEG, PNG, GIF, WebP, BMP, TIFF; 50 megapixels), no provider",
};

/**
 * `downscale` is image processing inside the BFF (no provider): the largest dimensions and best
 * quality that fit `max_size_mb`, optionally padded to a square. It runs in its own Lambda (the
 * state machine's ProcessImage state), sized for decoding 50-megapixel images.
 */
export const downscaleOperation: SyncProviderOperation = {
  ...downscaleRequest,
  async run(params, inputs) {
    const request = DownscaleSchema.parse(params);
    const [input] = inputs;
    if (!input) throw new InputInvalidError('input_image_asset_url is required');
    checkImageHeader(input, DOWNSCALE_INPUT_LIMITS);
    const result = await downscaleImage(input.bytes, {
      maxBytes: Math.floor(request.max_size_mb * BYTES_PER_MB),
      aspectRatioMode: request.aspect_ratio_mode,
      outputFormat: request.output_format,
      maxPixels: DOWNSCALE_INPUT_LIMITS.maxPixels,
    });
    return {
      files: [{ bytes: result.bytes, contentType: result.contentType, extension: result.extension }],
      sent: {},
      facts: { ...result.facts },
    };
  },
};

import { InputInvalidError, InputTooLargeError } from '../../errors.ts';
import { createImageDecoder } from '../../images/decode.ts';
import { readImageHeader } from '../../images/input-check.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';
import { recraftSettings } from './settings.ts';

/**
 * Recraft's documented input rules (settings.ts `inputImages`, from Recraft's tool pages), checked
 * before the call: a file Recraft would refuse fails the task with a sentence naming the field
 * and the rule, and no billable request is made. Format and size come from the file's header
 * (images/input-check.ts); only a mask, once its size is known to be within the limits, is decoded.
 */

export interface SideLimits {
  /** The Recraft tool, as the error message names it. */
  tool: string;
  minSide: number;
}

const { inputImages } = recraftSettings;

/** Image to image, inpainting and remove background: sides 256–4096 px. */
export const EDIT_LIMITS = { minSide: inputImages['image-to-image'].minSide };
/** Crisp upscale takes smaller images: sides 32–4096 px. */
export const CRISP_UPSCALE_LIMITS = { minSide: inputImages.upscale.minSide };

/** The same for every tool: formats, "under 10 MB", sides up to 4096 px, "up to 16 MP". */
const { formats: FORMATS, maxBytes: MAX_BYTES, maxSide: MAX_SIDE } = inputImages['image-to-image'];
/**
 * "Up to 16 MP" is 4096 x 4096 (16,777,216 pixels), the largest image the side limit allows, so
 * checking the sides checks the pixel count too.
 */
const MAX_PIXELS = inputImages['image-to-image'].maxPixels;

/** An input Recraft will take, ready for a multipart part. */
export interface CheckedImage {
  field: string;
  bytes: Buffer;
  contentType: string;
  extension: string;
  width: number;
  height: number;
}

const count = (value: number): string => value.toLocaleString('en-US');

/** The tool and side rule behind a BFF operation, as settings.ts records them. */
export function toolLimits(operation: keyof typeof inputImages): SideLimits {
  const { service, minSide } = inputImages[operation];
  return { tool: service.replace(/^Recraft /, ''), minSide };
}

/**
 * The input as Recraft will receive it, or the task's failure: PNG, JPEG or WebP judged by its
 * bytes (not the stored content type), dimensions from the header alone (no pixels decoded).
 */
export function checkInputImage(input: FetchedInput, limits: SideLimits): CheckedImage {
  const { field, bytes } = input;
  if (bytes.length > MAX_BYTES) {
    throw new InputTooLargeError(
      `${field} is ${(bytes.length / 1024 / 1024).toFixed(1)} MB; Recraft ${limits.tool} takes images under 10 MB`,
    );
  }
  const { contentType, extension, width, height } = readImageHeader(input, {
    service: `Recraft ${limits.tool}`,
    formats: FORMATS,
  });
  // Recraft states its rule as one range a side, so it is said that way (not "at least"/"at most").
  if (width < limits.minSide || height < limits.minSide || width > MAX_SIDE || height > MAX_SIDE) {
    throw new InputInvalidError(
      `${field} is ${width}x${height}, which Recraft ${limits.tool} does not take: each side must be between ${count(limits.minSide)} and ${count(MAX_SIDE)} pixels (16 MP at most)`,
    );
  }
  return { field, bytes, contentType, extension, width, height };
}

/**
 * Masks come in Recraft's formats (PNG, JPEG, WebP; checked from the header first), so the
 * decoder without jimp's GIF/BMP/TIFF fallback does: RunProvider's bundle carries neither jimp nor
 * an encoder. (A CMYK JPEG, which only jimp reads, is refused as undecodable.)
 */
const decodeImage = createImageDecoder();

/**
 * Recraft's inpainting mask: exactly the image's size, every pixel pure black (0, keep) or pure
 * white (255, regenerate). Recraft answers anything else with a 400 after the upload; checking
 * here names the problem and spends nothing.
 */
export async function checkMask(mask: CheckedImage, image: CheckedImage): Promise<void> {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new InputInvalidError(
      `${mask.field} must have exactly the size of ${image.field} (${image.width}x${image.height}); it is ${mask.width}x${mask.height}`,
    );
  }
  const pixels = await decodeImage(mask.bytes, { maxPixels: MAX_PIXELS });
  const { data, width } = pixels;
  let offending = 0;
  let first: number | undefined;
  for (let index = 0; index < data.length; index += 4) {
    const red = data[index];
    if ((red !== 0 && red !== 255) || data[index + 1] !== red || data[index + 2] !== red) {
      offending += 1;
      first ??= index / 4;
    }
  }
  if (first !== undefined) {
    const x = first % width;
    const y = Math.floor(first / width);
    throw new InputInvalidError(
      `${mask.field} must be pure black and white (0 = keep, 255 = regenerate); ${count(offending)} pixels are grey or coloured, the first at (${x}, ${y})`,
    );
  }
}

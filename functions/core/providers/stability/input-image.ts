import { InputInvalidError, InputTooLargeError } from '../../errors.ts';
import { detectFormat, readImageSize, webImageKind } from '../../images/formats.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';

/**
 * Stability's documented input limits (provider-contracts.md §3.2), checked before the call: a
 * request Stability would refuse fails the task with a sentence that names the field and the
 * limit, instead of a provider 400 (or 413) the client cannot act on (§8 item 9).
 */

export interface ImageLimits {
  /** The service, as the error message names it. */
  service: string;
  minSide: number;
  maxSide?: number;
  minPixels: number;
  maxPixels: number;
  /** Widest width:height allowed, and its inverse as the tallest. */
  maxAspect?: number;
}

/** Control (sketch, style) and search-and-recolor: sides ≥ 64, 4,096–9,437,184 px, 1:2.5–2.5:1. */
export const CONTROL_LIMITS = { minSide: 64, minPixels: 4_096, maxPixels: 9_437_184, maxAspect: 2.5 };
/** Remove background: sides ≥ 64, 4,096–4,194,304 px, any aspect. */
export const REMOVE_BACKGROUND_LIMITS = { minSide: 64, minPixels: 4_096, maxPixels: 4_194_304 };
/** SPAR3D (image-to-model): sides ≥ 64, 4,096–4,194,304 px, any aspect (same rule as Stable Fast 3D). */
export const SPAR3D_LIMITS = { minSide: 64, minPixels: 4_096, maxPixels: 4_194_304 };
/** Fast upscale: sides 32–1,536, 1,024–1,048,576 px. */
export const FAST_UPSCALE_LIMITS = { minSide: 32, maxSide: 1_536, minPixels: 1_024, maxPixels: 1_048_576 };

/** Stability refuses request bodies over 10 MiB; the text fields need a little of that. */
const MAX_IMAGE_BYTES = 10 * 1024 * 1024 - 64 * 1024;

/** An input image Stability will take, with the facts the request needs. */
export interface CheckedImage {
  bytes: Buffer;
  contentType: string;
  extension: string;
  width: number;
  height: number;
}

const count = (value: number): string => value.toLocaleString('en-US');

/** Every limit the image breaks, as phrases that follow "… is W x H; ". */
function brokenLimits(width: number, height: number, limits: ImageLimits): string[] {
  const problems: string[] = [];
  const pixels = width * height;
  if (width < limits.minSide || height < limits.minSide) {
    problems.push(`each side must be at least ${count(limits.minSide)} pixels`);
  }
  if (limits.maxSide !== undefined && (width > limits.maxSide || height > limits.maxSide)) {
    problems.push(`each side must be at most ${count(limits.maxSide)} pixels`);
  }
  if (pixels < limits.minPixels) {
    problems.push(
      `it must have at least ${count(limits.minPixels)} pixels in total (it has ${count(pixels)})`,
    );
  }
  if (pixels > limits.maxPixels) {
    problems.push(
      `it must have at most ${count(limits.maxPixels)} pixels in total (it has ${count(pixels)})`,
    );
  }
  if (limits.maxAspect !== undefined) {
    const aspect = width / height;
    if (aspect > limits.maxAspect || aspect < 1 / limits.maxAspect) {
      problems.push(`its aspect ratio must be between 1:${limits.maxAspect} and ${limits.maxAspect}:1`);
    }
  }
  return problems;
}

/**
 * The input as Stability will receive it, or the task's failure: PNG, JPEG or WebP (judged by
 * the bytes, not by the stored content type), within the body limit and the service's size rules.
 * Dimensions come from the file header; no pixels are decoded.
 */
export function checkInputImage(input: FetchedInput, limits: ImageLimits): CheckedImage {
  const { field, bytes } = input;
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new InputTooLargeError(
      `${field} is ${count(bytes.length)} bytes; ${limits.service} takes images of at most ${count(MAX_IMAGE_BYTES)} bytes (its requests are limited to 10 MiB)`,
    );
  }
  const format = detectFormat(bytes);
  const type = webImageKind(bytes);
  if (!format || !type) {
    throw new InputInvalidError(
      `${field} must be a PNG, JPEG or WebP image for ${limits.service}${format ? ` (it is ${format.toUpperCase()})` : ''}`,
    );
  }
  const size = readImageSize(bytes, format);
  if (!size || size.width <= 0 || size.height <= 0) {
    throw new InputInvalidError(`${field} is not a readable ${format.toUpperCase()} image`);
  }
  const problems = brokenLimits(size.width, size.height, limits);
  if (problems.length > 0) {
    throw new InputInvalidError(
      `${field} is ${size.width}x${size.height}, which ${limits.service} does not take: ${problems.join('; ')}`,
    );
  }
  return {
    bytes,
    contentType: type.contentType,
    extension: type.extension,
    width: size.width,
    height: size.height,
  };
}

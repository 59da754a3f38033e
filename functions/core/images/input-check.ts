import { InputInvalidError, InputTooLargeError } from '../errors.ts';
import { CONTENT_TYPES, detectFormat, FILE_EXTENSIONS, type ImageFormat, readImageSize } from './formats.ts';

/**
 * The check every input image passes before anything acts on it: before a provider call, before
 * an upload to a provider, before any decode. Format and dimensions come from the file's header
 * alone (formats.ts), so a few hundred bytes that claim 20000 x 20000 pixels cost nothing to
 * refuse, and the task fails with a sentence naming the field, the size found and the limit,
 * instead of a provider's 400 or a decoder allocating gigabytes.
 *
 * The limits themselves are provider facts and live in each provider's settings module
 * (`inputImages`); the downscale operation keeps its own beside it.
 */

/** What one service takes as an input image. */
export interface ImageLimits {
  /** The service, as messages name it: "Stability AI fast upscale", "Tripo image to model". */
  readonly service: string;
  /** Formats it takes, judged by the file's bytes (never by its stored content type). */
  readonly formats: readonly ImageFormat[];
  /** File size limit in bytes, when the service has one of its own. */
  readonly maxBytes?: number;
  /** Why the byte limit is what it is, when that is not obvious ("its requests are limited to 10 MiB"). */
  readonly bytesReason?: string;
  readonly minSide?: number;
  readonly maxSide?: number;
  readonly minPixels?: number;
  /** Always set: the pixel count bounds what a decoder, ours or the provider's, would allocate. */
  readonly maxPixels: number;
  /** Widest width:height allowed, and its inverse as the tallest. */
  readonly maxAspect?: number;
  /** Where the numbers come from: the provider's page (or why none applies) and when it was checked. */
  readonly source: string;
}

/** An input as the workflow fetched it; only its field name and bytes are read here. */
export interface ImageInput {
  readonly field: string;
  readonly bytes: Uint8Array;
}

/** What the header says, for the request that follows. */
export interface ImageHeader {
  format: ImageFormat;
  contentType: string;
  extension: string;
  width: number;
  height: number;
}

/** How messages name a format. */
export const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  gif: 'GIF',
  webp: 'WebP',
  bmp: 'BMP',
  tiff: 'TIFF',
};

const count = (value: number): string => value.toLocaleString('en-US');

/** "PNG, JPEG or WebP". */
function formatList(formats: readonly ImageFormat[]): string {
  const names = formats.map((format) => FORMAT_NAMES[format]);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * The format and size from the header, or the task's failure: a format the service does not take,
 * or a header that does not say a positive width and height. Byte and size limits are not checked.
 */
export function readImageHeader(
  input: ImageInput,
  limits: Pick<ImageLimits, 'service' | 'formats'>,
): ImageHeader {
  const { field, bytes } = input;
  const format = detectFormat(bytes);
  if (!format || !limits.formats.includes(format)) {
    throw new InputInvalidError(
      `${field} must be a ${formatList(limits.formats)} image for ${limits.service}${format ? ` (it is ${FORMAT_NAMES[format]})` : ''}`,
    );
  }
  const size = readImageSize(bytes, format);
  if (!size || !(size.width > 0) || !(size.height > 0)) {
    throw new InputInvalidError(`${field} is not a readable ${FORMAT_NAMES[format]} image`);
  }
  return {
    format,
    contentType: CONTENT_TYPES[format],
    extension: FILE_EXTENSIONS[format],
    width: size.width,
    height: size.height,
  };
}

/** Every size rule the dimensions break, as phrases that follow "… is WxH, which S does not take: ". */
export function brokenLimits(width: number, height: number, limits: ImageLimits): string[] {
  const problems: string[] = [];
  const pixels = width * height;
  if (limits.minSide !== undefined && (width < limits.minSide || height < limits.minSide)) {
    problems.push(`each side must be at least ${count(limits.minSide)} pixels`);
  }
  if (limits.maxSide !== undefined && (width > limits.maxSide || height > limits.maxSide)) {
    problems.push(`each side must be at most ${count(limits.maxSide)} pixels`);
  }
  if (limits.minPixels !== undefined && pixels < limits.minPixels) {
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
 * The input's format and size when the service takes it, or the task's failure, in this order:
 * over the byte limit (input_too_large), a format it does not take or an unreadable header, then
 * every size rule the dimensions break (input_invalid). No pixel is decoded.
 */
export function checkImageHeader(input: ImageInput, limits: ImageLimits): ImageHeader {
  const { field, bytes } = input;
  if (limits.maxBytes !== undefined && bytes.length > limits.maxBytes) {
    throw new InputTooLargeError(
      `${field} is ${count(bytes.length)} bytes; ${limits.service} takes images of at most ${count(limits.maxBytes)} bytes${limits.bytesReason ? ` (${limits.bytesReason})` : ''}`,
    );
  }
  const header = readImageHeader(input, limits);
  const problems = brokenLimits(header.width, header.height, limits);
  if (problems.length > 0) {
    throw new InputInvalidError(
      `${field} is ${header.width}x${header.height}, which ${limits.service} does not take: ${problems.join('; ')}`,
    );
  }
  return header;
}

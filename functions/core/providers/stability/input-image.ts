import { checkImageHeader, type ImageLimits } from '../../images/input-check.ts';
import type { FetchedInput } from '../../storage/input-fetcher.ts';

/**
 * Stability's documented input limits (settings.ts `inputImages`, one entry per service), checked
 * before the call: a request Stability would refuse fails the task with a sentence that names the
 * field and the limit, instead of a provider 400 (or 413) the client cannot act on. Dimensions
 * come from the file header; no pixels are decoded.
 */

/** An input image Stability will take, with the facts the request needs. */
export interface CheckedImage {
  bytes: Buffer;
  contentType: string;
  extension: string;
  width: number;
  height: number;
}

/**
 * The input as Stability will receive it, or the task's failure: PNG, JPEG or WebP (judged by
 * the bytes, not by the stored content type), within the body limit and the service's size rules.
 */
export function checkInputImage(input: FetchedInput, limits: ImageLimits): CheckedImage {
  const { contentType, extension, width, height } = checkImageHeader(input, limits);
  return { bytes: input.bytes, contentType, extension, width, height };
}

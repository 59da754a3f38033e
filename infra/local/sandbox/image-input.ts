import { createHash, randomUUID } from 'node:crypto';
import { Jimp, ResizeStrategy } from 'jimp';
import { decodeImage } from '../../../functions/core/images/codecs.ts';
import { readImageSize } from '../../../functions/core/images/formats.ts';
import { drawBitmap, encodeBitmap } from './draw-pool.ts';
import { type RecordedRequest, readRequest } from './sandbox.ts';

/**
 * Image plumbing shared by the image-provider simulators (Stability, Recraft, BFL): reading what
 * a client uploaded, and painting and encoding what the simulator answers. Decoding and encoding
 * go through the project's codecs because jimp alone cannot read or write WebP, which all three
 * providers accept as input and two of them return.
 */

export type RasterFormat = 'png' | 'jpeg' | 'webp';

/**
 * A jimp image built with `new Jimp`. (draw.ts's `JimpImage` is the type `Jimp.read` returns, which
 * TypeScript does not consider the same, so pictures are re-wrapped into this one type.)
 */
export type Picture = InstanceType<typeof Jimp>;

/** A picture holding a copy of the given RGBA pixels. */
export function pictureOf(bitmap: { data: Uint8Array; width: number; height: number }): Picture {
  const picture = new Jimp({ width: bitmap.width, height: bitmap.height });
  picture.bitmap.data.set(bitmap.data.subarray(0, bitmap.width * bitmap.height * 4));
  return picture;
}

export interface DecodedInput {
  bytes: Buffer;
  format: RasterFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
  image: Picture;
}

export const contentTypes: Record<RasterFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/** The container format from the magic bytes; providers sniff, they do not trust the filename. */
export function sniffFormat(bytes: Uint8Array): RasterFormat | 'gif' | 'svg' | undefined {
  const b = (i: number): number => bytes[i] ?? -1;
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'png';
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  const ascii = (from: number, to: number): string =>
    Buffer.from(bytes.subarray(from, to)).toString('latin1');
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  const head = Buffer.from(bytes.subarray(0, 512)).toString('utf8').trimStart();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return undefined;
}

export interface ImageHeader {
  format: RasterFormat;
  width: number;
  height: number;
}

/**
 * A PNG, JPEG or WebP upload's format and size from its header alone, as providers read it before
 * they decode anything; undefined for other formats or a header without a positive size. Every
 * simulator checks its provider's size limits on this, so an upload claiming 20000 x 20000 pixels
 * is refused without a byte of pixel memory, and without stalling the host's event loop.
 */
export function readHeader(bytes: Buffer): ImageHeader | undefined {
  const format = sniffFormat(bytes);
  if (format !== 'png' && format !== 'jpeg' && format !== 'webp') return undefined;
  const size = readImageSize(bytes, format);
  if (!size || !(size.width > 0) || !(size.height > 0)) return undefined;
  return { format, ...size };
}

/**
 * The most pixels `decodeInput` decodes by default: the largest image any simulated provider takes
 * (Tripo's 6000 x 6000), so it only matters to a caller that did not check its provider's limit.
 */
const MAX_DECODE_PIXELS = 6000 * 6000;

/**
 * Decodes a PNG, JPEG or WebP upload; undefined when it is anything else, corrupt, or claims more
 * than `maxPixels` in its header (checked before decoding). Callers check their provider's limits
 * on `readHeader` first, so they can answer with the provider's own words.
 */
export async function decodeInput(
  bytes: Buffer,
  maxPixels = MAX_DECODE_PIXELS,
): Promise<DecodedInput | undefined> {
  const header = readHeader(bytes);
  if (!header || header.width * header.height > maxPixels) return undefined;
  const { format } = header;
  try {
    const decoded = await decodeImage(bytes, { maxPixels });
    const image = pictureOf(decoded);
    return { bytes, format, width: decoded.width, height: decoded.height, hasAlpha: decoded.hasAlpha, image };
  } catch {
    return undefined;
  }
}

/** Encoded on a draw thread, off the host's event loop (draw-pool.ts). */
export async function encodePicture(image: Picture, format: RasterFormat): Promise<Buffer> {
  const { data, width, height } = image.bitmap;
  return encodeBitmap({ data, width, height }, format);
}

export interface PaintOptions {
  seed: string;
  width: number;
  height: number;
  /** Blended over the drawn picture, so the result visibly depends on the input. */
  input?: DecodedInput | undefined;
  /** How strongly the input shows through (0–1); default 0.5. */
  inputOpacity?: number;
  transparent?: boolean;
}

/**
 * A deterministic picture for a request, as a jimp image the caller can still post-process. The
 * drawing runs on a draw thread (draw-pool.ts); the blend with the input, here.
 */
export async function paint(options: PaintOptions): Promise<Picture> {
  const drawn = await drawBitmap({
    seed: options.seed,
    width: options.width,
    height: options.height,
    transparent: options.transparent ?? false,
  });
  const picture = pictureOf(drawn);
  if (options.input) {
    const overlay = resized(options.input.image, options.width, options.height);
    picture.composite(overlay, 0, 0, { opacitySource: options.inputOpacity ?? 0.5 });
  }
  return picture;
}

/** A resized copy (bilinear); the source is left untouched. */
export function resized(image: Picture, width: number, height: number): Picture {
  const copy = image.clone();
  if (copy.bitmap.width !== width || copy.bitmap.height !== height) {
    copy.resize({ w: width, h: height, mode: ResizeStrategy.BILINEAR });
  }
  return copy;
}

/**
 * A heavily blurred copy, as providers return when the output tripped their moderation. Shrinking
 * and re-enlarging blurs as well as a Gaussian would here and is an order of magnitude faster.
 */
export function blurred(image: Picture): Picture {
  const { width, height } = image.bitmap;
  const small = resized(image, Math.max(1, Math.round(width / 24)), Math.max(1, Math.round(height / 24)));
  return resized(small, width, height);
}

/** Cuts the subject out: keeps the input's pixels inside a centred ellipse, clears the rest. */
export function cutOut(image: Picture): Picture {
  const copy = image.clone();
  const { width, height, data } = copy.bitmap;
  const rx = width * 0.42;
  const ry = height * 0.45;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - width / 2) / rx;
      const dy = (y + 0.5 - height / 2) / ry;
      if (dx * dx + dy * dy > 1) data[(y * width + x) * 4 + 3] = 0;
    }
  }
  return copy;
}

/** `data:[<mime>][;base64],<data>` → bytes; undefined when it is not a data URL. */
export function parseDataUrl(url: string): Buffer | undefined {
  const match = /^data:([^,]*?),(.*)$/s.exec(url);
  if (!match) return undefined;
  const meta = match[1] ?? '';
  const payload = match[2] ?? '';
  if (meta.endsWith(';base64')) return Buffer.from(payload, 'base64');
  return Buffer.from(decodeURIComponent(payload), 'latin1');
}

/** Standard or URL-safe base64 with nothing else in it (padding optional). */
export function decodeStrictBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
}

export class FetchInputError extends Error {
  override readonly name = 'FetchInputError';
}

/**
 * Downloads an input image the way a provider fetches a URL it was given. The local stack serves
 * Supabase Storage itself, so in practice this reaches a local route, never the internet.
 */
export async function fetchInput(url: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const timeout = AbortSignal.timeout(15_000);
  const response = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout }).catch(
    (error: unknown) => {
      throw new FetchInputError(
        `could not fetch ${url}: ${error instanceof Error ? error.message : 'error'}`,
      );
    },
  );
  if (!response.ok) throw new FetchInputError(`fetching ${url} answered HTTP ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > maxBytes) throw new FetchInputError(`${url} is larger than ${maxBytes} bytes`);
  return bytes;
}

export function digest(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\u0000');
  }
  return hash.digest('hex');
}

/** A random identifier in the form the provider uses (hex without dashes, or a UUID). */
export function newId(form: 'hex' | 'uuid'): string {
  const uuid = randomUUID();
  return form === 'uuid' ? uuid : uuid.replaceAll('-', '');
}

/**
 * The width and height with the given aspect that hold about `pixels` pixels, each side a multiple
 * of `step`, as diffusion models size their outputs.
 */
export function sizeForAspect(
  aspect: number,
  pixels: number,
  step: number,
): { width: number; height: number } {
  const width = Math.max(step, Math.round(Math.sqrt(pixels * aspect) / step) * step);
  const height = Math.max(step, Math.round(Math.sqrt(pixels / aspect) / step) * step);
  return { width, height };
}

/** Scales both sides by `scale` (tests shrink outputs to stay fast); keeps the aspect. */
export function scaled(
  size: { width: number; height: number },
  scale: number,
): { width: number; height: number } {
  if (scale === 1) return size;
  return {
    width: Math.max(1, Math.round(size.width * scale)),
    height: Math.max(1, Math.round(size.height * scale)),
  };
}

/**
 * `readRequest`, but a malformed body (a broken multipart stream) is reported instead of thrown,
 * and the request is still recorded with whatever could be read, so tests can see it arrived.
 */
export async function readBody(
  request: Request,
  path: string,
): Promise<{
  recorded: RecordedRequest;
  files: Map<string, File[]>;
  jsonError?: string;
  malformed?: string;
}> {
  try {
    return await readRequest(request, path);
  } catch (error) {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const recorded: RecordedRequest = {
      method: request.method,
      path,
      headers,
      fields: {},
      files: {},
      contentType: request.headers.get('content-type') ?? '',
    };
    return {
      recorded,
      files: new Map(),
      malformed: error instanceof Error ? error.message : 'unreadable body',
    };
  }
}

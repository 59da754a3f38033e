/**
 * The downscale operation's core (api-contract §6): re-encode an image so that it is at most
 * `maxBytes`, keeping the largest dimensions and then the highest JPEG quality that fit, optionally
 * padded to a centred square.
 *
 * Search: JPEG first searches quality at full size; when even the lowest accepted quality is too
 * big, it searches the largest long side at that quality, then the highest quality at that size.
 * PNG is lossless, so only dimensions are searched. Dimensions are searched by interpolating
 * log(bytes) against log(long side) (bytes grow roughly with area), falling back to bisection when
 * interpolation stops halving the bracket.
 *
 * Speed: on images of a megapixel or more, probes are decided by an estimate instead of a full
 * resize and encode. Only one band of 16 rows (two JPEG MCU rows) in eight of the candidate is
 * resized and encoded, and the size scaled up; on photos this lands within about 1% of the real
 * size at an eighth of the cost. The returned image is always a real encode checked against the
 * limit: a final candidate that turns out too big is stepped down (quality, then size) a few times,
 * and if that is not enough the whole search reruns on real encodes only.
 */
import { InputInvalidError, InputTooLargeError } from '../errors.ts';
import {
  CONTENT_TYPES,
  type DecodedImage,
  decodeImage,
  detectFormat,
  encodeImage,
  FILE_EXTENSIONS,
  type ImageFormat,
} from './codecs.ts';
import { type Bitmap, Downsampler, premultiply, unpremultiply } from './resize.ts';

/** The contract's input cap: 20 MiB. */
export const MAX_INPUT_BYTES = 20 * 1024 * 1024;
/** Below this JPEG shows blocking; a smaller image at this quality is preferred to a blockier one. */
export const JPEG_MIN_QUALITY = 60;
/** Above this JPEG grows fast for no visible gain. */
export const JPEG_MAX_QUALITY = 95;
/** The dimension search stops when the fitting and failing long sides are within 1% of the original. */
const SCALE_RESOLUTION = 0.01;
/** Final candidates that turn out too big are stepped down this many times before searching on real encodes. */
const MAX_STEP_DOWNS = 3;
/** Smaller images are cheap enough to encode in full. */
const ESTIMATE_MIN_PIXELS = 1_000_000;
/** Sample one band in this many. */
const ESTIMATE_BAND_STRIDE = 8;
/** Two 4:2:0 JPEG MCU rows, so bands start and end on block boundaries. */
const ESTIMATE_BAND_ROWS = 16;

export type AspectRatioMode = 'original' | 'square';
export type RequestedOutputFormat = 'original' | 'jpeg' | 'png';
export type OutputFormat = 'jpeg' | 'png';

export interface DownscaleOptions {
  maxBytes: number;
  aspectRatioMode: AspectRatioMode;
  outputFormat: RequestedOutputFormat;
}

/** What the task row's metadata records about a downscale. */
export interface DownscaleFacts {
  original_bytes: number;
  original_width: number;
  original_height: number;
  original_format: ImageFormat;
  final_bytes: number;
  /** Of the output image, square padding included. */
  final_width: number;
  final_height: number;
  final_format: OutputFormat;
  /** null for PNG. */
  jpeg_quality: number | null;
  /** The picture's long side in the output over the original's (padding excluded), 4 decimals. */
  scale: number;
  /** Candidate sizes/qualities evaluated, estimated or encoded. */
  attempts: number;
}

export interface DownscaleResult {
  bytes: Buffer;
  contentType: string;
  extension: string;
  facts: DownscaleFacts;
}

/**
 * The output format. 'original' keeps JPEG and PNG. GIF, WebP, BMP and TIFF cannot be written, so
 * 'original' gives PNG when the image has transparency (JPEG would lose it) and JPEG otherwise
 * (these are mostly photos, and JPEG fits far more pixels into the same bytes).
 */
export function resolveOutputFormat(
  inputFormat: ImageFormat,
  hasAlpha: boolean,
  requested: RequestedOutputFormat,
): OutputFormat {
  if (requested !== 'original') return requested;
  if (inputFormat === 'jpeg' || inputFormat === 'png') return inputFormat;
  return hasAlpha ? 'png' : 'jpeg';
}

interface Probe {
  fits: boolean;
  /** Real or estimated. */
  bytes: number;
}

interface Candidate {
  longSide: number;
  quality: number | null;
}

/** The rows of the size-estimate sample: every ESTIMATE_BAND_STRIDE-th band of ESTIMATE_BAND_ROWS rows. */
function sampleRows(height: number): Int32Array {
  const rows: number[] = [];
  // Start half a stride in, so the sample is not biased towards the top edge.
  for (let first = (ESTIMATE_BAND_STRIDE >> 1) * ESTIMATE_BAND_ROWS; first < height; ) {
    const end = Math.min(height, first + ESTIMATE_BAND_ROWS);
    for (let row = first; row < end; row++) rows.push(row);
    first += ESTIMATE_BAND_STRIDE * ESTIMATE_BAND_ROWS;
  }
  return Int32Array.from(rows);
}

/** Produces the output canvas for a given long side: resized, then padded when square. */
class Renderer {
  private readonly downsampler: Downsampler;
  private cached: { longSide: number; bitmap: Bitmap } | undefined;
  readonly longSide: number;

  constructor(
    private readonly image: DecodedImage,
    private readonly square: boolean,
    private readonly format: OutputFormat,
  ) {
    const source: Bitmap = { data: image.data, width: image.width, height: image.height };
    this.downsampler = new Downsampler(image.hasAlpha ? premultiply(source) : source);
    this.longSide = Math.max(image.width, image.height);
  }

  /** The picture's size at this long side (before any padding). */
  dimensionsFor(longSide: number): { width: number; height: number } {
    const { width, height } = this.image;
    if (longSide === this.longSide) return { width, height };
    const scale = longSide / this.longSide;
    return {
      width: width >= height ? longSide : Math.max(1, Math.round(width * scale)),
      height: height > width ? longSide : Math.max(1, Math.round(height * scale)),
    };
  }

  /** The whole output canvas. */
  render(longSide: number): Bitmap {
    if (this.cached?.longSide !== longSide)
      this.cached = { longSide, bitmap: this.renderRows(longSide, undefined) };
    return this.cached.bitmap;
  }

  /** The size-estimate sample of the output canvas, and the fraction of its rows it holds. */
  renderSample(longSide: number): { sample: Bitmap; fraction: number } {
    const canvasHeight = this.canvasSize(longSide).height;
    const rows = sampleRows(canvasHeight);
    return { sample: this.renderRows(longSide, rows), fraction: rows.length / canvasHeight };
  }

  private canvasSize(longSide: number): { width: number; height: number } {
    const picture = this.dimensionsFor(longSide);
    if (!this.square || picture.width === picture.height) return picture;
    const side = Math.max(picture.width, picture.height);
    return { width: side, height: side };
  }

  /**
   * The listed canvas rows (ascending; all when undefined), stacked. Square padding is white for
   * JPEG and transparent for PNG, with the picture centred.
   */
  private renderRows(longSide: number, canvasRows: Int32Array | undefined): Bitmap {
    const picture = this.dimensionsFor(longSide);
    const canvas = this.canvasSize(longSide);
    const unchanged = picture.width === this.image.width && picture.height === this.image.height;
    const padded = canvas.width !== picture.width || canvas.height !== picture.height;
    if (!canvasRows && !padded && unchanged)
      return { data: this.image.data, width: picture.width, height: picture.height };

    const top = (canvas.height - picture.height) >> 1;
    const left = (canvas.width - picture.width) >> 1;
    const rows = canvasRows ?? Int32Array.from({ length: canvas.height }, (_, row) => row);
    const pictureRows = rows
      .filter((row) => row >= top && row < top + picture.height)
      .map((row) => row - top);
    const pictureRowBytes = picture.width * 4;

    let pixels: Uint8Array;
    if (unchanged) {
      pixels = new Uint8Array(pictureRows.length * pictureRowBytes);
      pictureRows.forEach((row, index) => {
        pixels.set(
          this.image.data.subarray(row * pictureRowBytes, (row + 1) * pictureRowBytes),
          index * pictureRowBytes,
        );
      });
    } else {
      const resized = this.downsampler.resizeRows(picture.width, picture.height, pictureRows);
      if (this.image.hasAlpha) unpremultiply(resized);
      pixels = resized.data;
    }
    if (!padded) return { data: pixels, width: picture.width, height: pictureRows.length };

    const canvasRowBytes = canvas.width * 4;
    const data = new Uint8Array(rows.length * canvasRowBytes);
    if (this.format === 'jpeg') data.fill(255);
    let pictureIndex = 0;
    rows.forEach((row, index) => {
      if (row < top || row >= top + picture.height) return;
      data.set(
        pixels.subarray(pictureIndex * pictureRowBytes, (pictureIndex + 1) * pictureRowBytes),
        index * canvasRowBytes + left * 4,
      );
      pictureIndex++;
    });
    return { data, width: canvas.width, height: rows.length };
  }
}

/** Whether `a` is the better output: larger first, then higher quality. */
function better(a: Candidate, b: Candidate): boolean {
  return a.longSide > b.longSide || (a.longSide === b.longSide && (a.quality ?? 0) > (b.quality ?? 0));
}

class Search {
  attempts = 0;
  private readonly overheads = new Map<string, number>();
  /** The best real encode that fitted, so the final answer is not encoded twice. */
  private bestEncoded: { candidate: Candidate; bytes: Buffer } | undefined;

  constructor(
    private readonly renderer: Renderer,
    private readonly format: OutputFormat,
    private readonly maxBytes: number,
    private readonly useEstimates: boolean,
  ) {}

  private encode(bitmap: Bitmap, quality: number | null): Promise<Buffer> {
    return encodeImage(bitmap, this.format, quality === null ? {} : { quality });
  }

  /** Bytes every file has whatever its size (headers, tables); not to be scaled up with the sample. */
  private async overhead(quality: number | null): Promise<number> {
    const key = String(quality);
    const known = this.overheads.get(key);
    if (known !== undefined) return known;
    const flat = await this.encode(
      { data: new Uint8Array(16 * 16 * 4).fill(128), width: 16, height: 16 },
      quality,
    );
    this.overheads.set(key, flat.length);
    return flat.length;
  }

  private async estimate(longSide: number, quality: number | null): Promise<number | undefined> {
    const { width, height } = this.renderer.dimensionsFor(longSide);
    if (!this.useEstimates || width * height < ESTIMATE_MIN_PIXELS) return undefined;
    const { sample, fraction } = this.renderer.renderSample(longSide);
    const overhead = await this.overhead(quality);
    const sampleBytes = (await this.encode(sample, quality)).length;
    return Math.max(0, sampleBytes - overhead) / fraction + overhead;
  }

  async probe(candidate: Candidate): Promise<Probe> {
    const { longSide, quality } = candidate;
    this.attempts++;
    const estimate = await this.estimate(longSide, quality);
    if (estimate !== undefined) return { fits: estimate <= this.maxBytes, bytes: estimate };
    const encoded = await this.encode(this.renderer.render(longSide), quality);
    const fits = encoded.length <= this.maxBytes;
    if (fits && (!this.bestEncoded || better(candidate, this.bestEncoded.candidate))) {
      this.bestEncoded = { candidate, bytes: encoded };
    }
    return { fits, bytes: encoded.length };
  }

  /** Highest quality in [fitting, failing) at this size; `fitting` is known to fit. */
  async highestQuality(longSide: number, fitting: number, failing: number): Promise<number> {
    let low = fitting;
    let high = failing;
    while (high - low > 1) {
      const middle = (low + high) >> 1;
      if ((await this.probe({ longSide, quality: middle })).fits) low = middle;
      else high = middle;
    }
    return low;
  }

  /**
   * Largest long side below `failing` (whose size was `failingBytes`) that fits at `quality`, to
   * within SCALE_RESOLUTION; undefined when not even one pixel fits.
   */
  async largestLongSide(
    failing: number,
    failingBytes: number,
    quality: number | null,
  ): Promise<number | undefined> {
    const resolution = Math.max(1, Math.round(this.renderer.longSide * SCALE_RESOLUTION));
    let low: { longSide: number; bytes: number } | undefined;
    let high = { longSide: failing, bytes: failingBytes };
    let bisectNext = false;
    while (true) {
      if (low && high.longSide - low.longSide <= resolution) return low.longSide;
      if (!low && high.longSide <= 1) return undefined;
      let guess: number;
      if (!low) {
        // Nothing known to fit yet: assume bytes proportional to area.
        guess = high.longSide * Math.sqrt(this.maxBytes / high.bytes);
      } else {
        const slope = Math.log(high.bytes / low.bytes) / Math.log(high.longSide / low.longSide);
        guess =
          bisectNext || !(slope > 0)
            ? Math.sqrt(low.longSide * high.longSide)
            : low.longSide * (this.maxBytes / low.bytes) ** (1 / slope);
      }
      const lowest = low ? low.longSide + resolution : 1;
      const highest = Math.max(lowest, high.longSide - resolution);
      const next = Math.min(highest, Math.max(lowest, Math.floor(guess)));
      const bracketBefore = high.longSide - (low?.longSide ?? 0);
      const result = await this.probe({ longSide: next, quality });
      if (result.fits) low = { longSide: next, bytes: result.bytes };
      else high = { longSide: next, bytes: result.bytes };
      // Interpolation can creep towards one end; force a bisection when a step failed to halve the bracket.
      bisectNext = !bisectNext && high.longSide - (low?.longSide ?? 0) > bracketBefore / 2;
    }
  }

  /** The best candidate according to the probes, or undefined if nothing fits. */
  async best(): Promise<Candidate | undefined> {
    const full = this.renderer.longSide;
    if (this.format === 'png') {
      const atFull = await this.probe({ longSide: full, quality: null });
      if (atFull.fits) return { longSide: full, quality: null };
      const longSide = await this.largestLongSide(full, atFull.bytes, null);
      return longSide === undefined ? undefined : { longSide, quality: null };
    }
    const lowest = await this.probe({ longSide: full, quality: JPEG_MIN_QUALITY });
    if (lowest.fits) {
      const highest = await this.probe({ longSide: full, quality: JPEG_MAX_QUALITY });
      if (highest.fits) return { longSide: full, quality: JPEG_MAX_QUALITY };
      return { longSide: full, quality: await this.highestQuality(full, JPEG_MIN_QUALITY, JPEG_MAX_QUALITY) };
    }
    const longSide = await this.largestLongSide(full, lowest.bytes, JPEG_MIN_QUALITY);
    if (longSide === undefined) return undefined;
    return { longSide, quality: await this.highestQuality(longSide, JPEG_MIN_QUALITY, JPEG_MAX_QUALITY + 1) };
  }

  /** The next smaller output: one quality step down, else one resolution step smaller at the lowest quality. */
  stepDown(candidate: Candidate): Candidate | undefined {
    if (candidate.quality !== null && candidate.quality > JPEG_MIN_QUALITY) {
      return { longSide: candidate.longSide, quality: candidate.quality - 1 };
    }
    if (candidate.longSide <= 1) return undefined;
    const resolution = Math.max(1, Math.round(this.renderer.longSide * SCALE_RESOLUTION));
    return { longSide: Math.max(1, candidate.longSide - resolution), quality: candidate.quality };
  }

  /**
   * The candidate really encoded, stepping down while it does not fit (estimates are within about
   * 1% but not exact). Undefined when the step-downs run out, or nothing fits.
   */
  async encodeFinal(first: Candidate): Promise<{ candidate: Candidate; bytes: Buffer } | undefined> {
    let candidate: Candidate | undefined = first;
    for (let step = 0; candidate && step <= MAX_STEP_DOWNS; step++) {
      const known = this.bestEncoded;
      if (
        known &&
        known.candidate.longSide === candidate.longSide &&
        known.candidate.quality === candidate.quality
      ) {
        return known;
      }
      this.attempts++;
      const bytes = await this.encode(this.renderer.render(candidate.longSide), candidate.quality);
      if (bytes.length <= this.maxBytes) return { candidate, bytes };
      candidate = this.stepDown(candidate);
    }
    return undefined;
  }
}

/**
 * Re-encodes `input` to at most `options.maxBytes`. Throws InputInvalidError for anything that is
 * not an accepted image or when the limit cannot be met even by a 1-pixel image, InputTooLargeError
 * over 20 MiB or 50 megapixels.
 */
export async function downscaleImage(input: Buffer, options: DownscaleOptions): Promise<DownscaleResult> {
  const { maxBytes } = options;
  if (!Number.isFinite(maxBytes) || maxBytes <= 0) {
    throw new InputInvalidError(`The size limit must be a positive number of bytes, not ${maxBytes}`);
  }
  if (input.length > MAX_INPUT_BYTES) {
    throw new InputTooLargeError(
      `The image is ${input.length} bytes; at most 20 MiB (${MAX_INPUT_BYTES}) is accepted`,
    );
  }
  if (!detectFormat(input)) {
    throw new InputInvalidError('The input is not a JPEG, PNG, GIF, WebP, BMP or TIFF image');
  }
  const image = await decodeImage(input);
  const format = resolveOutputFormat(image.format, image.hasAlpha, options.outputFormat);
  const renderer = new Renderer(image, options.aspectRatioMode === 'square', format);

  let attempts = 0;
  let chosen: { candidate: Candidate; bytes: Buffer } | undefined;
  for (const useEstimates of [true, false]) {
    const search = new Search(renderer, format, maxBytes, useEstimates);
    const candidate = await search.best();
    attempts += search.attempts;
    if (!candidate) break;
    chosen = await search.encodeFinal(candidate);
    if (chosen) break;
  }
  if (!chosen) {
    throw new InputInvalidError(
      `The image cannot be made to fit in ${maxBytes} bytes as ${format.toUpperCase()}, even at 1 pixel`,
    );
  }

  const output = renderer.render(chosen.candidate.longSide);
  const { width: pictureWidth, height: pictureHeight } = renderer.dimensionsFor(chosen.candidate.longSide);
  return {
    bytes: chosen.bytes,
    contentType: CONTENT_TYPES[format],
    extension: FILE_EXTENSIONS[format],
    facts: {
      original_bytes: input.length,
      original_width: image.width,
      original_height: image.height,
      original_format: image.format,
      final_bytes: chosen.bytes.length,
      final_width: output.width,
      final_height: output.height,
      final_format: format,
      jpeg_quality: chosen.candidate.quality,
      scale: Math.round((Math.max(pictureWidth, pictureHeight) / renderer.longSide) * 10_000) / 10_000,
      attempts,
    },
  };
}

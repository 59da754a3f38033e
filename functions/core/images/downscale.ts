/**
 * The downscale operation's core (docs/api.md, Downscale): re-encode an image so that it is at most
 * `maxBytes`, keeping the largest dimensions and then the highest JPEG quality that fit, optionally
 * padded to a centred square.
 *
 * Search: JPEG first binary-searches quality (60–95) at full size; when even the lowest quality is
 * too big, it searches the largest long side at that quality, then the highest quality at that size
 * (galloping up from 60 first, since the answer is usually close to it). PNG is lossless, so only
 * dimensions are searched. Dimensions are searched by interpolating log(bytes) against log(long
 * side) (bytes grow roughly with area), bisecting when interpolation stops halving the bracket, to
 * a resolution of 1% of the original long side.
 *
 * Speed: on images of a megapixel or more, probes are decided by an estimate instead of a full
 * resize and encode: only bands of 16 rows (two JPEG MCU rows) of the candidate are resized and
 * encoded (one band in 4 to one in 16, at least ESTIMATE_SAMPLE_ROWS rows) and the size is
 * scaled up; on photos this lands within a few per cent of the real size at that fraction of the
 * cost.
 * Opaque images bound for JPEG stay 3-channel RGB from the decode to the encode: no alpha to carry
 * through the resize, no RGB→RGBA expansion after the decode nor flattening before each encode, and
 * the final canvas is resized straight into the encoder's input buffer (the README's Benchmarks
 * section has the figures). The pixels, and so the bytes, are those of the RGBA path.
 * The returned image is always a real encode checked against the limit: a final candidate that
 * turns out too big is stepped down (quality, then size) a few times, and if that is not enough the
 * whole search reruns on real encodes only.
 */
import { InputInvalidError, InputTooLargeError } from '../errors.ts';
import {
  CONTENT_TYPES,
  type DecodedImage,
  decodeImage,
  detectFormat,
  encodeImage,
  encodeRgbJpeg,
  encodeRgbJpegFrom,
  FILE_EXTENSIONS,
  type ImageFormat,
} from './codecs.ts';
import { encodePng } from './png-encoder.ts';
import { type Bitmap, channelsOf, Downsampler, premultiply, unpremultiply } from './resize.ts';

/** The API's input cap: 20 MiB (docs/api.md, Limits). */
export const MAX_INPUT_BYTES = 20 * 1024 * 1024;
/** Below this JPEG shows blocking; a smaller image at this quality is preferred to a blockier one. */
export const JPEG_MIN_QUALITY = 60;
/** Above this JPEG grows fast for no visible gain. */
export const JPEG_MAX_QUALITY = 95;
/** The dimension search stops when the fitting and failing long sides are within 1% of the original. */
const SCALE_RESOLUTION = 0.01;
/** Final candidates that turn out too big are stepped down this many times before searching on real encodes. */
const MAX_STEP_DOWNS = 3;
/** The flat JPEGs the fixed overhead is measured on: large enough to be encoded in WASM. */
const FLAT_JPEG_SIDE = 256;
/**
 * The flat JPEGs' grey: RGBA flats are 128 at alpha 128, which flattens onto white as 191; RGB flats
 * are that grey, so both measure the same overhead.
 */
const FLAT_RGBA_VALUE = 128;
const FLAT_RGB_VALUE = 191;
/** Smaller images are cheap enough to encode in full. */
const ESTIMATE_MIN_PIXELS = 1_000_000;
/** Two 4:2:0 JPEG MCU rows, so bands start and end on block boundaries. */
const ESTIMATE_BAND_ROWS = 16;
/** At least this many rows are sampled, one band in 4 at most… */
const ESTIMATE_SAMPLE_ROWS = 144;
/**
 * …and one band in 16 at least. Measured on photo-like JPEG and PNG, plain and padded to squares,
 * from 1.6 to 12 MP: errors of 1% rms, 2.5% at worst, whether one band in 8 or in 16 is sampled.
 */
const ESTIMATE_MAX_STRIDE = 16;
/**
 * Estimates were measured within ±2.5% of the real size (see ESTIMATE_MAX_STRIDE); a candidate
 * counts as fitting only with this much to spare, so that the final real encode rarely has to step
 * down (a full resize and encode). The price: the output can be up to that much under the limit,
 * about 1% in each dimension.
 */
const ESTIMATE_GUARD = 1.025;

export type AspectRatioMode = 'original' | 'square';
export type RequestedOutputFormat = 'original' | 'jpeg' | 'png';
export type OutputFormat = 'jpeg' | 'png';

export interface DownscaleOptions {
  maxBytes: number;
  aspectRatioMode: AspectRatioMode;
  outputFormat: RequestedOutputFormat;
  /** Images whose header claims more pixels are refused before decoding; default 50 MP. */
  maxPixels?: number;
}

/** What the task row's metadata records about a downscale. */
export interface DownscaleFacts {
  original_bytes: number;
  /** As displayed: after the JPEG's EXIF orientation, if any, is applied. */
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

/**
 * The rows of the size-estimate sample: one band of ESTIMATE_BAND_ROWS rows in every `stride`.
 * Exported so a test can build an image that the sample misjudges.
 */
export function sampleRows(height: number): Int32Array {
  const stride = Math.min(ESTIMATE_MAX_STRIDE, Math.max(4, Math.floor(height / ESTIMATE_SAMPLE_ROWS)));
  const rows: number[] = [];
  // Start half a stride in, so the sample is not biased towards the top edge.
  for (let first = (stride >> 1) * ESTIMATE_BAND_ROWS; first < height; first += stride * ESTIMATE_BAND_ROWS) {
    const end = Math.min(height, first + ESTIMATE_BAND_ROWS);
    for (let row = first; row < end; row++) rows.push(row);
  }
  return Int32Array.from(rows);
}

/** The size-estimate sample of one long side (Renderer.renderSample). */
interface Sample {
  sample: Bitmap;
  paddingBand: Bitmap;
  canvasHeight: number;
  top: number;
  pictureHeight: number;
  /** Whether the whole canvas has transparency (then a PNG of it, and of its parts, is RGBA). */
  canvasHasAlpha: boolean;
}

/**
 * Samples kept for reuse: the quality search re-estimates the long side the dimension search
 * settled on, whose sample is one or two probes old.
 */
const KEPT_SAMPLES = 2;

/** Produces the output canvas for a given long side: resized, then padded when square. */
class Renderer {
  private readonly downsampler: Downsampler;
  private cached: { longSide: number; bitmap: Bitmap } | undefined;
  private readonly samples = new Map<number, Sample>();
  readonly longSide: number;
  /** 3 for an opaque image decoded as RGB (bound for JPEG), else 4 (RGBA). */
  readonly channels: 3 | 4;

  constructor(
    private readonly image: DecodedImage,
    private readonly square: boolean,
    private readonly format: OutputFormat,
  ) {
    this.channels = image.channels;
    const source: Bitmap = {
      data: image.data,
      width: image.width,
      height: image.height,
      channels: this.channels,
    };
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

  /** Whether render(longSide) has its canvas at hand. */
  isRendered(longSide: number): boolean {
    return this.cached?.longSide === longSide;
  }

  /** The whole output canvas. */
  render(longSide: number): Bitmap {
    if (this.cached?.longSide !== longSide) {
      this.cached = { longSide, bitmap: this.renderRows(longSide, undefined) };
    }
    return this.cached.bitmap;
  }

  /**
   * The size-estimate sample: bands from the picture's rows only (with any left/right padding) and
   * one band of pure padding. Square padding above and below compresses to almost nothing, so it is
   * estimated apart: whether a sample band happened to fall on it would otherwise swing the estimate.
   */
  renderSample(longSide: number): Sample {
    const kept = this.samples.get(longSide);
    if (kept) return kept;
    const sample = this.renderSampleOf(longSide);
    this.samples.set(longSide, sample);
    // Maps iterate in insertion order: the first key is the oldest.
    for (const key of this.samples.keys()) {
      if (this.samples.size <= KEPT_SAMPLES) break;
      this.samples.delete(key);
    }
    return sample;
  }

  private renderSampleOf(longSide: number): Sample {
    const picture = this.dimensionsFor(longSide);
    const canvas = this.canvasSize(longSide);
    const top = (canvas.height - picture.height) >> 1;
    const padded = canvas.width !== picture.width || canvas.height !== picture.height;
    const rows = sampleRows(picture.height).map((row) => row + top);
    return {
      sample: this.renderRows(longSide, rows),
      paddingBand: {
        data: new Uint8Array(canvas.width * ESTIMATE_BAND_ROWS * this.channels).fill(
          this.format === 'jpeg' ? 255 : 0,
        ),
        width: canvas.width,
        height: ESTIMATE_BAND_ROWS,
        channels: this.channels,
      },
      canvasHeight: canvas.height,
      top,
      pictureHeight: picture.height,
      canvasHasAlpha: this.image.hasAlpha || (padded && this.format === 'png'),
    };
  }

  /** The output's size at this long side: the picture's, or the square's it is padded to. */
  canvasSize(longSide: number): { width: number; height: number } {
    const picture = this.dimensionsFor(longSide);
    if (!this.square || picture.width === picture.height) return picture;
    const side = Math.max(picture.width, picture.height);
    return { width: side, height: side };
  }

  /**
   * The whole canvas written into `target` (as many bytes as the canvas has, any content before):
   * for an encoder's input buffer, saving a buffer and a copy.
   */
  renderInto(longSide: number, target: Uint8Array): void {
    this.renderRows(longSide, undefined, target);
  }

  /**
   * The listed canvas rows (ascending; all when undefined), stacked, in `target` if given (else in
   * a new buffer, or the decoded image itself when the canvas is unchanged). Square padding is white
   * for JPEG and transparent for PNG, with the picture centred.
   */
  private renderRows(longSide: number, canvasRows: Int32Array | undefined, target?: Uint8Array): Bitmap {
    const picture = this.dimensionsFor(longSide);
    const canvas = this.canvasSize(longSide);
    const unchanged = picture.width === this.image.width && picture.height === this.image.height;
    const padded = canvas.width !== picture.width || canvas.height !== picture.height;
    const channels = this.channels;
    if (!canvasRows && !padded && unchanged && !target) {
      return { data: this.image.data, width: picture.width, height: picture.height, channels };
    }

    const top = (canvas.height - picture.height) >> 1;
    const left = (canvas.width - picture.width) >> 1;
    const rows = canvasRows ?? Int32Array.from({ length: canvas.height }, (_, row) => row);
    // The picture's rows among those asked for: always one contiguous run (all rows, or a sample
    // taken from the picture's rows only).
    const pictureRows = rows
      .filter((row) => row >= top && row < top + picture.height)
      .map((row) => row - top);
    const firstPictureIndex = rows.findIndex((row) => row >= top);
    const rowBytes = canvas.width * channels;
    const data = target ?? new Uint8Array(rows.length * rowBytes);
    if (padded && this.format === 'jpeg') data.fill(255);
    else if (padded && target) data.fill(0);
    const pictureOffset = Math.max(0, firstPictureIndex) * rowBytes + left * channels;
    if (unchanged) {
      const pictureRowBytes = picture.width * channels;
      pictureRows.forEach((row, index) => {
        data.set(
          this.image.data.subarray(row * pictureRowBytes, (row + 1) * pictureRowBytes),
          pictureOffset + index * rowBytes,
        );
      });
    } else {
      // Resized straight into place: no separate picture buffer to copy from.
      this.downsampler.resizeRowsInto(picture.width, picture.height, pictureRows, {
        data,
        byteOffset: pictureOffset,
        rowBytes,
      });
      // Padding is fully opaque or fully transparent, which unpremultiplying leaves alone.
      if (this.image.hasAlpha) unpremultiply({ data, width: canvas.width, height: rows.length });
    }
    return { data, width: canvas.width, height: rows.length, channels };
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

  /** `keepAlphaChannel`: a PNG sample of a canvas that has transparency elsewhere must be RGBA too. */
  private encode(bitmap: Bitmap, quality: number | null, keepAlphaChannel = false): Promise<Buffer> {
    if (this.format === 'png') return encodePng(bitmap, { keepAlphaChannel });
    if (channelsOf(bitmap) === 3 && quality !== null) return encodeRgbJpeg(bitmap, quality);
    return encodeImage(bitmap, this.format, quality === null ? {} : { quality });
  }

  /**
   * The whole canvas of `candidate`, encoded. `direct`: an RGB canvas not rendered yet is resized
   * straight into the JPEG encoder's buffer (the final encode after estimates; a step-down of it
   * renders once more, into the cache, as the probes without estimates do).
   */
  private encodeWhole(candidate: Candidate, direct: boolean): Promise<Buffer> {
    const { longSide, quality } = candidate;
    if (direct && this.renderer.channels === 3 && quality !== null && !this.renderer.isRendered(longSide)) {
      const { width, height } = this.renderer.canvasSize(longSide);
      return encodeRgbJpegFrom(width, height, quality, (rgb) => this.renderer.renderInto(longSide, rgb));
    }
    return this.encode(this.renderer.render(longSide), quality);
  }

  /** Bytes every file has whatever its size (headers, tables); not to be scaled up with the sample. */
  private async overhead(quality: number | null, keepAlphaChannel: boolean): Promise<number> {
    const key = `${quality}:${keepAlphaChannel}`;
    const known = this.overheads.get(key);
    if (known !== undefined) return known;
    const channels = this.renderer.channels;
    const flat = (width: number, height: number) =>
      this.encode(
        {
          data: new Uint8Array(width * height * channels).fill(
            channels === 3 ? FLAT_RGB_VALUE : FLAT_RGBA_VALUE,
          ),
          width,
          height,
          channels,
        },
        quality,
        keepAlphaChannel,
      );
    let bytes: number;
    if (this.format === 'jpeg') {
      // A flat JPEG is headers plus a few bits per block: extrapolate two sizes to zero area. (A
      // tiny one would do as well, but JPEGs that small go through jimp, whose loading costs more
      // than the whole search.)
      const [half, full] = await Promise.all([
        flat(FLAT_JPEG_SIDE, FLAT_JPEG_SIDE / 2),
        flat(FLAT_JPEG_SIDE, FLAT_JPEG_SIDE),
      ]);
      bytes = Math.max(0, 2 * half.length - full.length);
    } else {
      bytes = (await flat(16, 16)).length;
    }
    this.overheads.set(key, bytes);
    return bytes;
  }

  private async estimate(longSide: number, quality: number | null): Promise<number | undefined> {
    const { width, height } = this.renderer.dimensionsFor(longSide);
    if (!this.useEstimates || width * height < ESTIMATE_MIN_PIXELS) return undefined;
    const { sample, paddingBand, canvasHeight, top, pictureHeight, canvasHasAlpha } =
      this.renderer.renderSample(longSide);
    const overhead = await this.overhead(quality, canvasHasAlpha);
    const sampleBytes = Math.max(0, (await this.encode(sample, quality, canvasHasAlpha)).length - overhead);
    // JPEG codes 16-row MCU rows (4:2:0): one that holds any picture row costs as much as picture.
    const unit = this.format === 'jpeg' ? ESTIMATE_BAND_ROWS : 1;
    const pictureUnits = Math.ceil((top + pictureHeight) / unit) - Math.floor(top / unit);
    const paddingUnits = Math.ceil(canvasHeight / unit) - pictureUnits;
    let padding = 0;
    if (paddingUnits > 0) {
      const bandBytes = Math.max(
        0,
        (await this.encode(paddingBand, quality, canvasHasAlpha)).length - overhead,
      );
      padding = (bandBytes / (paddingBand.height / unit)) * paddingUnits;
    }
    return (sampleBytes / (sample.height / unit)) * pictureUnits + padding + overhead;
  }

  async probe(candidate: Candidate): Promise<Probe> {
    const { longSide, quality } = candidate;
    this.attempts++;
    const estimate = await this.estimate(longSide, quality);
    if (estimate !== undefined) return { fits: estimate * ESTIMATE_GUARD <= this.maxBytes, bytes: estimate };
    const encoded = await this.encode(this.renderer.render(longSide), quality);
    const fits = encoded.length <= this.maxBytes;
    if (fits && (!this.bestEncoded || better(candidate, this.bestEncoded.candidate))) {
      this.bestEncoded = { candidate, bytes: encoded };
    }
    return { fits, bytes: encoded.length };
  }

  /**
   * Highest quality in [fitting, failing) at this size; `fitting` is known to fit. With `gallop`, the
   * answer is expected just above `fitting` (the size was searched at that quality), so steps of
   * 1, 2, 4… up from it find the bracket in one or two probes before the bisection.
   */
  async highestQuality(longSide: number, fitting: number, failing: number, gallop: boolean): Promise<number> {
    let low = fitting;
    let high = failing;
    for (let step = 1; gallop && low + step < high; step *= 2) {
      if (!(await this.probe({ longSide, quality: low + step })).fits) {
        high = low + step;
        break;
      }
      low += step;
    }
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
      return {
        longSide: full,
        quality: await this.highestQuality(full, JPEG_MIN_QUALITY, JPEG_MAX_QUALITY, false),
      };
    }
    const longSide = await this.largestLongSide(full, lowest.bytes, JPEG_MIN_QUALITY);
    if (longSide === undefined) return undefined;
    return {
      longSide,
      quality: await this.highestQuality(longSide, JPEG_MIN_QUALITY, JPEG_MAX_QUALITY + 1, true),
    };
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
   * The candidate really encoded, stepping down while it does not fit (estimates are close but not
   * exact). Undefined when the step-downs run out, or nothing fits.
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
      const bytes = await this.encodeWhole(candidate, step === 0);
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
  const inputFormat = detectFormat(input);
  if (!inputFormat) {
    throw new InputInvalidError('The input is not a JPEG, PNG, GIF, WebP, BMP or TIFF image');
  }
  // An opaque image bound for JPEG stays RGB from the decode to the encode (no alpha to carry,
  // resize or flatten); whether it is opaque is known once decoded, and one with transparency stays
  // RGBA (then resolveOutputFormat below sees it).
  const opaqueAsRgb = resolveOutputFormat(inputFormat, false, options.outputFormat) === 'jpeg';
  const image = await decodeImage(input, {
    opaqueAsRgb,
    ...(options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels }),
  });
  const format = resolveOutputFormat(image.format, image.hasAlpha, options.outputFormat);
  const renderer = new Renderer(image, options.aspectRatioMode === 'square', format);

  let attempts = 0;
  let chosen: { candidate: Candidate; bytes: Buffer } | undefined;
  for (const useEstimates of [true, false]) {
    const search = new Search(renderer, format, maxBytes, useEstimates);
    const candidate = await search.best();
    if (candidate) chosen = await search.encodeFinal(candidate);
    attempts += search.attempts;
    if (!candidate || chosen) break;
  }
  if (!chosen) {
    throw new InputInvalidError(
      `The image cannot be made to fit in ${maxBytes} bytes as ${format.toUpperCase()}, even at 1 pixel`,
    );
  }

  const output = renderer.canvasSize(chosen.candidate.longSide);
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

/**
 * Downsampling of RGBA bitmaps: an integer box reduction followed by a separable triangle filter
 * whose support widens with the ratio (Pillow's antialiased BILINEAR), on premultiplied alpha so
 * transparent pixels do not bleed their (often black) colour into visible edges.
 *
 * Why not jimp's resize and composite: measured on this machine, jimp 1.6.1 takes ~300 ms to resize
 * 3 MP to 2 MP (any mode but nearest-neighbour, which aliases) and ~860 ms to composite a 3 MP image
 * onto a canvas; the downscale search resizes several times per request. This file does the same
 * work in ~60 ms and padding is a row copy.
 */
import type { RgbaBitmap } from './codecs.ts';

export interface Bitmap {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Fixed-point precision of the filter weights. */
const WEIGHT_BITS = 14;
const WEIGHT_ONE = 1 << WEIGHT_BITS;

function asBytes(data: Uint8Array | Uint8ClampedArray): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A copy with colour multiplied by alpha, so averaging weighs each pixel by its opacity. */
export function premultiply(source: RgbaBitmap): Bitmap {
  const input = asBytes(source.data);
  const output = new Uint8Array(source.width * source.height * 4);
  for (let index = 0; index < output.length; index += 4) {
    const alpha = input[index + 3] ?? 0;
    if (alpha === 255) {
      output[index] = input[index] ?? 0;
      output[index + 1] = input[index + 1] ?? 0;
      output[index + 2] = input[index + 2] ?? 0;
    } else if (alpha !== 0) {
      output[index] = ((input[index] ?? 0) * alpha + 127) / 255;
      output[index + 1] = ((input[index + 1] ?? 0) * alpha + 127) / 255;
      output[index + 2] = ((input[index + 2] ?? 0) * alpha + 127) / 255;
    }
    output[index + 3] = alpha;
  }
  return { data: output, width: source.width, height: source.height };
}

/** In place: back from premultiplied to straight alpha. */
export function unpremultiply(bitmap: Bitmap): void {
  const data = bitmap.data;
  for (let index = 0; index < data.length; index += 4) {
    const alpha = data[index + 3] ?? 0;
    if (alpha === 255 || alpha === 0) continue;
    data[index] = Math.min(255, ((data[index] ?? 0) * 255 + (alpha >> 1)) / alpha);
    data[index + 1] = Math.min(255, ((data[index + 1] ?? 0) * 255 + (alpha >> 1)) / alpha);
    data[index + 2] = Math.min(255, ((data[index + 2] ?? 0) * 255 + (alpha >> 1)) / alpha);
  }
}

/**
 * Averages each `factor`×`factor` block into one pixel (partial blocks at the right and bottom
 * edges average what they have). Cheap, and exact area sampling for integer ratios.
 */
export function boxReduce(source: Bitmap, factor: number): Bitmap {
  const { width, height } = source;
  const input = source.data;
  const outWidth = Math.ceil(width / factor);
  const outHeight = Math.ceil(height / factor);
  const output = new Uint8Array(outWidth * outHeight * 4);
  const sums = new Uint32Array(outWidth * 4);
  const lastColumnWidth = width - (outWidth - 1) * factor;
  for (let outY = 0; outY < outHeight; outY++) {
    sums.fill(0);
    const firstRow = outY * factor;
    const rows = Math.min(factor, height - firstRow);
    for (let y = firstRow; y < firstRow + rows; y++) {
      let inputIndex = y * width * 4;
      for (let outX = 0; outX < outWidth; outX++) {
        const columns = outX === outWidth - 1 ? lastColumnWidth : factor;
        let red = 0;
        let green = 0;
        let blue = 0;
        let alpha = 0;
        for (let column = 0; column < columns; column++) {
          red += input[inputIndex] ?? 0;
          green += input[inputIndex + 1] ?? 0;
          blue += input[inputIndex + 2] ?? 0;
          alpha += input[inputIndex + 3] ?? 0;
          inputIndex += 4;
        }
        const sumIndex = outX * 4;
        sums[sumIndex] = (sums[sumIndex] ?? 0) + red;
        sums[sumIndex + 1] = (sums[sumIndex + 1] ?? 0) + green;
        sums[sumIndex + 2] = (sums[sumIndex + 2] ?? 0) + blue;
        sums[sumIndex + 3] = (sums[sumIndex + 3] ?? 0) + alpha;
      }
    }
    let outputIndex = outY * outWidth * 4;
    for (let outX = 0; outX < outWidth; outX++) {
      const count = rows * (outX === outWidth - 1 ? lastColumnWidth : factor);
      const half = count >> 1;
      const sumIndex = outX * 4;
      output[outputIndex++] = ((sums[sumIndex] ?? 0) + half) / count;
      output[outputIndex++] = ((sums[sumIndex + 1] ?? 0) + half) / count;
      output[outputIndex++] = ((sums[sumIndex + 2] ?? 0) + half) / count;
      output[outputIndex++] = ((sums[sumIndex + 3] ?? 0) + half) / count;
    }
  }
  return { data: output, width: outWidth, height: outHeight };
}

interface FilterTaps {
  /** First input index for each output index. */
  start: Int32Array;
  /** Number of taps for each output index. */
  count: Int32Array;
  /** `maxTaps` fixed-point weights per output index, summing to WEIGHT_ONE. */
  weights: Int32Array;
  maxTaps: number;
}

/** Triangle-filter taps mapping `inSize` samples onto `outSize`, pixel centres aligned. */
function triangleTaps(inSize: number, outSize: number): FilterTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * maxTaps);
  const raw = new Float64Array(maxTaps);
  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(0, Math.floor(centre - support));
    const last = Math.min(inSize, Math.ceil(centre + support));
    let total = 0;
    let taps = 0;
    for (let input = first; input < last && taps < maxTaps; input++, taps++) {
      const distance = Math.abs((input + 0.5 - centre) / filterScale);
      const weight = distance < 1 ? 1 - distance : 0;
      raw[taps] = weight;
      total += weight;
    }
    start[out] = first;
    count[out] = taps;
    // Rounding each weight can leave the sum off by a few units; give the remainder to the largest tap.
    let assigned = 0;
    let largest = 0;
    for (let tap = 0; tap < taps; tap++) {
      const weight = Math.round(((raw[tap] ?? 0) / (total || 1)) * WEIGHT_ONE);
      weights[out * maxTaps + tap] = weight;
      assigned += weight;
      if (weight > (weights[out * maxTaps + largest] ?? 0)) largest = tap;
    }
    weights[out * maxTaps + largest] = (weights[out * maxTaps + largest] ?? 0) + WEIGHT_ONE - assigned;
  }
  return { start, count, weights, maxTaps };
}

const ROUNDING = 1 << (WEIGHT_BITS - 1);

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** A Uint32 view of RGBA bytes (copying only if they are not 4-byte aligned). */
function pixelsOf(data: Uint8Array): Uint32Array {
  if (data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  return new Uint32Array(data.slice().buffer);
}

/**
 * Resamples `source` to `width`×`height` but computes only the output rows listed (ascending),
 * stacked in that order: the downscale's size estimates need a sample of rows, and this makes them
 * cost that fraction of a full resize.
 *
 * Vertical pass first, over whole rows (sequential memory access, which is what makes JS fast
 * here), then the horizontal pass on the few rows that are left, reading each pixel as one 32-bit
 * word. The four channels are filtered alike, so byte order does not matter.
 */
function resampleRows(source: Bitmap, width: number, height: number, outputRows: ArrayLike<number>): Bitmap {
  const input = source.data;
  const sourceRowBytes = source.width * 4;
  const rowCount = outputRows.length;

  // Vertical: one source-width row per requested output row.
  let vertical: Uint8Array;
  if (source.height === height) {
    vertical = new Uint8Array(rowCount * sourceRowBytes);
    for (let index = 0; index < rowCount; index++) {
      const from = (outputRows[index] ?? 0) * sourceRowBytes;
      vertical.set(input.subarray(from, from + sourceRowBytes), index * sourceRowBytes);
    }
  } else {
    const taps = triangleTaps(source.height, height);
    const { start, count, weights, maxTaps } = taps;
    vertical = new Uint8Array(rowCount * sourceRowBytes);
    const sums = new Int32Array(sourceRowBytes);
    for (let index = 0; index < rowCount; index++) {
      const outY = outputRows[index] ?? 0;
      sums.fill(ROUNDING);
      const firstRow = start[outY] ?? 0;
      const tapCount = count[outY] ?? 0;
      for (let tap = 0; tap < tapCount; tap++) {
        const weight = weights[outY * maxTaps + tap] ?? 0;
        const rowStart = (firstRow + tap) * sourceRowBytes;
        for (let offset = 0; offset < sourceRowBytes; offset++) {
          sums[offset] = (sums[offset] ?? 0) + (input[rowStart + offset] ?? 0) * weight;
        }
      }
      const outStart = index * sourceRowBytes;
      for (let offset = 0; offset < sourceRowBytes; offset++) {
        vertical[outStart + offset] = clampByte((sums[offset] ?? 0) >> WEIGHT_BITS);
      }
    }
  }
  if (source.width === width) return { data: vertical, width, height: rowCount };

  // Horizontal.
  const { start, count, weights, maxTaps } = triangleTaps(source.width, width);
  const inputPixels = pixelsOf(vertical);
  const output = new Uint8Array(rowCount * width * 4);
  const outputPixels = new Uint32Array(output.buffer);
  for (let row = 0; row < rowCount; row++) {
    const rowStart = row * source.width;
    let outputIndex = row * width;
    for (let outX = 0; outX < width; outX++) {
      const tapCount = count[outX] ?? 0;
      const weightStart = outX * maxTaps;
      let inputIndex = rowStart + (start[outX] ?? 0);
      let channel0 = ROUNDING;
      let channel1 = ROUNDING;
      let channel2 = ROUNDING;
      let channel3 = ROUNDING;
      for (let tap = 0; tap < tapCount; tap++) {
        const weight = weights[weightStart + tap] ?? 0;
        const pixel = inputPixels[inputIndex++] ?? 0;
        channel0 += (pixel & 0xff) * weight;
        channel1 += ((pixel >>> 8) & 0xff) * weight;
        channel2 += ((pixel >>> 16) & 0xff) * weight;
        channel3 += (pixel >>> 24) * weight;
      }
      outputPixels[outputIndex++] =
        (clampByte(channel0 >> WEIGHT_BITS) |
          (clampByte(channel1 >> WEIGHT_BITS) << 8) |
          (clampByte(channel2 >> WEIGHT_BITS) << 16) |
          (clampByte(channel3 >> WEIGHT_BITS) << 24)) >>>
        0;
    }
  }
  return { data: output, width, height: rowCount };
}

function allRows(height: number): Int32Array {
  const rows = new Int32Array(height);
  for (let row = 0; row < height; row++) rows[row] = row;
  return rows;
}

/**
 * Resizes one premultiplied source to many sizes (the downscale search tries several). Ratios of 2
 * or more are first box-reduced by their integer part, which is both faster and a true area
 * average; the triangle filter does the remaining fraction. Box reductions are kept for reuse.
 */
export class Downsampler {
  private readonly reductions = new Map<number, Bitmap>();

  constructor(private readonly source: Bitmap) {}

  private reducedFor(width: number, height: number): Bitmap {
    const factor = Math.floor(Math.min(this.source.width / width, this.source.height / height));
    if (factor < 2) return this.source;
    const reduced = this.reductions.get(factor) ?? boxReduce(this.source, factor);
    this.reductions.set(factor, reduced);
    return reduced;
  }

  /** The whole image at width×height (may be the source itself when the size is unchanged). */
  resize(width: number, height: number): Bitmap {
    if (width === this.source.width && height === this.source.height) return this.source;
    return resampleRows(this.reducedFor(width, height), width, height, allRows(height));
  }

  /** Only the listed rows (ascending) of the image at width×height, stacked. */
  resizeRows(width: number, height: number, rows: ArrayLike<number>): Bitmap {
    return resampleRows(this.reducedFor(width, height), width, height, rows);
  }
}

/**
 * A PNG encoder: per-row adaptive filtering (libpng's minimum-sum-of-absolute-differences
 * heuristic) in JS, compression by Node's native zlib.
 *
 * Why our own: the WASM PNG encoders at hand (squoosh's, jimp's wasm-png) always write RGBA and use
 * their fastest compression, so an opaque photo came out about a third larger than it needs to be,
 * and the downscale would then shrink PNGs further than necessary to fit the size limit. This one
 * writes RGB when no pixel is translucent, like Pillow.
 */

import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import type { RgbaBitmap } from './codecs.ts';

const deflateAsync = promisify(deflate);

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOUR_TYPE_RGB = 2;
const COLOUR_TYPE_RGBA = 6;

function chunk(type: string, body: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length, 0);
  header.write(type, 4, 'latin1');
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(body, crc32(header.subarray(4, 8))), 0);
  return Buffer.concat([header, body, trailer]);
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

/** Residual magnitude as libpng scores it: bytes read as signed. */
function score(byte: number): number {
  return byte < 128 ? byte : 256 - byte;
}

/**
 * Filters every row with each of the five PNG filters and keeps the one whose output has the
 * smallest sum of absolute values; returns the filtered scanlines, each prefixed by its filter type.
 */
function filterRows(pixels: Uint8Array, rowLength: number, rows: number, bytesPerPixel: number): Uint8Array {
  const output = new Uint8Array((rowLength + 1) * rows);
  const candidates = Array.from({ length: 5 }, () => new Uint8Array(rowLength));
  const zeroRow = new Uint8Array(rowLength);
  for (let row = 0; row < rows; row++) {
    const current = pixels.subarray(row * rowLength, (row + 1) * rowLength);
    const previous = row === 0 ? zeroRow : pixels.subarray((row - 1) * rowLength, row * rowLength);
    const [none, sub, up, average, paethRow] = candidates as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const sums = [0, 0, 0, 0, 0];
    for (let index = 0; index < rowLength; index++) {
      const value = current[index] ?? 0;
      const left = index >= bytesPerPixel ? (current[index - bytesPerPixel] ?? 0) : 0;
      const above = previous[index] ?? 0;
      const aboveLeft = index >= bytesPerPixel ? (previous[index - bytesPerPixel] ?? 0) : 0;
      none[index] = value;
      sub[index] = value - left;
      up[index] = value - above;
      average[index] = value - ((left + above) >> 1);
      paethRow[index] = value - paeth(left, above, aboveLeft);
    }
    for (let filter = 0; filter < 5; filter++) {
      const candidate = candidates[filter] ?? none;
      let sum = 0;
      for (let index = 0; index < rowLength; index++) sum += score(candidate[index] ?? 0);
      sums[filter] = sum;
    }
    let best = 0;
    for (let filter = 1; filter < 5; filter++) {
      if ((sums[filter] ?? 0) < (sums[best] ?? 0)) best = filter;
    }
    const start = row * (rowLength + 1);
    output[start] = best;
    output.set(candidates[best] ?? none, start + 1);
  }
  return output;
}

/** Encodes RGBA pixels as an 8-bit PNG, RGB when every pixel is opaque. */
export async function encodePng(
  bitmap: RgbaBitmap,
  options: {
    compressionLevel?: number;
    /** Write RGBA even if every pixel is opaque (to measure a part of an image that is not). */
    keepAlphaChannel?: boolean;
  } = {},
): Promise<Buffer> {
  const { width, height } = bitmap;
  const rgba =
    bitmap.data instanceof Uint8Array
      ? bitmap.data
      : new Uint8Array(bitmap.data.buffer, bitmap.data.byteOffset, bitmap.data.byteLength);
  let opaque = !options.keepAlphaChannel;
  for (let index = 3; opaque && index < width * height * 4; index += 4) {
    if (rgba[index] !== 255) opaque = false;
  }
  let pixels: Uint8Array;
  let bytesPerPixel: number;
  if (opaque) {
    bytesPerPixel = 3;
    pixels = new Uint8Array(width * height * 3);
    for (let input = 0, out = 0; out < pixels.length; input += 4, out += 3) {
      pixels[out] = rgba[input] ?? 0;
      pixels[out + 1] = rgba[input + 1] ?? 0;
      pixels[out + 2] = rgba[input + 2] ?? 0;
    }
  } else {
    bytesPerPixel = 4;
    pixels = rgba.subarray(0, width * height * 4);
  }
  const filtered = filterRows(pixels, width * bytesPerPixel, height, bytesPerPixel);
  const compressed = await deflateAsync(filtered, { level: options.compressionLevel ?? 6 });
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = opaque ? COLOUR_TYPE_RGB : COLOUR_TYPE_RGBA;
  // compression method, filter method and interlace are all 0 (the only defined/normal values)
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', compressed),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Real image files made at test time. The pixels look like a photo to a compressor: smooth colour
 * fields, hard-edged shapes and sensor-like noise, so JPEG and PNG sizes behave as they do on real
 * photos (a flat or purely synthetic pattern compresses unrealistically well).
 */
import { Jimp, JimpMime } from 'jimp';
import { encodeImage, type ImageFormat, type RgbaBitmap } from '../../functions/core/images/codecs.ts';

export interface PhotoOptions {
  /** Deterministic content per seed. */
  seed?: number;
  /** Peak-to-peak amplitude of the per-pixel noise, in 8-bit levels. */
  noise?: number;
  /** Peak-to-peak amplitude of the finest texture, in 8-bit levels. */
  texture?: number;
  /** Make everything outside a centred ellipse transparent, with a soft edge. */
  transparentBackground?: boolean;
}

/** xorshift32: fast, deterministic, good enough for texture. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** A photo-like RGBA bitmap. */
export function makePhotoBitmap(width: number, height: number, options: PhotoOptions = {}): RgbaBitmap {
  const next = random(options.seed ?? 1);
  const noise = options.noise ?? 12;
  // Clamped, so the layers below saturate at 0 and 255 instead of wrapping around.
  const data = new Uint8ClampedArray(width * height * 4);

  // Smooth colour field: per channel a sum of separable low-frequency waves, precomputed per column
  // and per row so the per-pixel work is additions only.
  const columns = Array.from({ length: 3 }, () => new Float32Array(width));
  const rows = Array.from({ length: 3 }, () => new Float32Array(height));
  for (let channel = 0; channel < 3; channel++) {
    const column = columns[channel] ?? new Float32Array(width);
    const row = rows[channel] ?? new Float32Array(height);
    for (let wave = 0; wave < 3; wave++) {
      const frequencyX = (0.5 + next() * 3) * ((2 * Math.PI) / width);
      const frequencyY = (0.5 + next() * 3) * ((2 * Math.PI) / height);
      const phaseX = next() * 2 * Math.PI;
      const phaseY = next() * 2 * Math.PI;
      const amplitude = 20 + next() * 25;
      for (let x = 0; x < width; x++)
        column[x] = (column[x] ?? 0) + amplitude * Math.sin(frequencyX * x + phaseX);
      for (let y = 0; y < height; y++) row[y] = (row[y] ?? 0) + amplitude * Math.cos(frequencyY * y + phaseY);
    }
  }
  const base = [90 + next() * 60, 90 + next() * 60, 90 + next() * 60];
  const [columnRed, columnGreen, columnBlue] = columns as [Float32Array, Float32Array, Float32Array];
  const [rowRed, rowGreen, rowBlue] = rows as [Float32Array, Float32Array, Float32Array];
  const [baseRed, baseGreen, baseBlue] = base as [number, number, number];
  for (let y = 0; y < height; y++) {
    const red = baseRed + (rowRed[y] ?? 0);
    const green = baseGreen + (rowGreen[y] ?? 0);
    const blue = baseBlue + (rowBlue[y] ?? 0);
    let index = y * width * 4;
    for (let x = 0; x < width; x++) {
      data[index++] = red + (columnRed[x] ?? 0);
      data[index++] = green + (columnGreen[x] ?? 0);
      data[index++] = blue + (columnBlue[x] ?? 0);
      data[index++] = 255;
    }
  }

  // Objects: filled ellipses and rectangles with hard edges, each with its own gentle shading.
  const shapeCount = 12;
  for (let shape = 0; shape < shapeCount; shape++) {
    const centreX = next() * width;
    const centreY = next() * height;
    const radiusX = (0.04 + next() * 0.16) * width;
    const radiusY = (0.04 + next() * 0.16) * height;
    const colour = [next() * 255, next() * 255, next() * 255];
    const elliptical = next() < 0.6;
    const left = Math.max(0, Math.floor(centreX - radiusX));
    const right = Math.min(width, Math.ceil(centreX + radiusX));
    const top = Math.max(0, Math.floor(centreY - radiusY));
    const bottom = Math.min(height, Math.ceil(centreY + radiusY));
    for (let y = top; y < bottom; y++) {
      const dy = (y - centreY) / radiusY;
      for (let x = left; x < right; x++) {
        const dx = (x - centreX) / radiusX;
        if (elliptical && dx * dx + dy * dy > 1) continue;
        const shade = 0.75 + 0.25 * dx;
        const index = (y * width + x) * 4;
        data[index] = (colour[0] ?? 0) * shade;
        data[index + 1] = (colour[1] ?? 0) * shade;
        data[index + 2] = (colour[2] ?? 0) * shade;
      }
    }
  }

  // Texture (foliage, fabric, gravel): value noise at three scales, each a grid of random levels
  // bilinearly interpolated. This is the mid-frequency detail that dominates a photo's JPEG size.
  const octaves: Array<[cell: number, amplitude: number]> = [
    [4, options.texture ?? 28],
    [16, (options.texture ?? 28) * 0.8],
    [64, (options.texture ?? 28) * 0.6],
  ];
  for (const [cell, amplitude] of octaves) {
    if (amplitude <= 0) continue;
    const gridWidth = Math.ceil(width / cell) + 2;
    const gridHeight = Math.ceil(height / cell) + 2;
    const grid = new Float32Array(gridWidth * gridHeight);
    for (let index = 0; index < grid.length; index++) grid[index] = (next() - 0.5) * amplitude;
    for (let y = 0; y < height; y++) {
      const gridY = Math.floor(y / cell);
      const fractionY = (y % cell) / cell;
      const rowAbove = gridY * gridWidth;
      const rowBelow = rowAbove + gridWidth;
      let index = y * width * 4;
      for (let x = 0; x < width; x++) {
        const gridX = Math.floor(x / cell);
        const fractionX = (x % cell) / cell;
        const above =
          (grid[rowAbove + gridX] ?? 0) * (1 - fractionX) + (grid[rowAbove + gridX + 1] ?? 0) * fractionX;
        const below =
          (grid[rowBelow + gridX] ?? 0) * (1 - fractionX) + (grid[rowBelow + gridX + 1] ?? 0) * fractionX;
        const offset = above * (1 - fractionY) + below * fractionY;
        // Mostly luminance, a little chroma, as in real texture.
        data[index] = (data[index] ?? 0) + offset;
        data[index + 1] = (data[index + 1] ?? 0) + offset * 0.9;
        data[index + 2] = (data[index + 2] ?? 0) + offset * 0.8;
        index += 4;
      }
    }
  }

  // Sensor noise, roughly Gaussian (sum of two uniforms), independent per channel.
  if (noise > 0) {
    const noiseRandom = random((options.seed ?? 1) * 7919 + 17);
    for (let index = 0; index < data.length; index += 4) {
      for (let channel = 0; channel < 3; channel++) {
        const offset = (noiseRandom() + noiseRandom() - 1) * noise;
        data[index + channel] = (data[index + channel] ?? 0) + offset;
      }
    }
  }

  if (options.transparentBackground) {
    const centreX = width / 2;
    const centreY = height / 2;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = (x - centreX) / (width * 0.4);
        const dy = (y - centreY) / (height * 0.4);
        const distance = Math.sqrt(dx * dx + dy * dy);
        // Opaque inside, a soft 5% ramp, fully transparent (and black, as editors often leave it) outside.
        const alpha = distance <= 0.95 ? 255 : distance >= 1 ? 0 : Math.round(((1 - distance) / 0.05) * 255);
        const index = (y * width + x) * 4 + 3;
        data[index] = alpha;
        if (alpha === 0) data.fill(0, index - 3, index);
      }
    }
  }
  return { data, width, height };
}

/** The bitmap encoded as a real file of `format`. */
export async function encodeFixture(bitmap: RgbaBitmap, format: ImageFormat, quality = 90): Promise<Buffer> {
  switch (format) {
    case 'jpeg':
    case 'webp':
      return encodeImage(bitmap, format, { quality });
    case 'png':
      return encodeImage(bitmap, 'png');
    case 'gif':
    case 'bmp':
    case 'tiff': {
      // Our codecs do not write these; jimp does.
      const image = Jimp.fromBitmap({
        data: Buffer.from(bitmap.data.buffer, bitmap.data.byteOffset, bitmap.data.byteLength),
        width: bitmap.width,
        height: bitmap.height,
      });
      return image.getBuffer(JimpMime[format]);
    }
  }
}

/** A photo-like image encoded as `format`. */
export async function makePhotoFile(
  format: ImageFormat,
  width: number,
  height: number,
  options: PhotoOptions & { quality?: number } = {},
): Promise<Buffer> {
  return encodeFixture(makePhotoBitmap(width, height, options), format, options.quality);
}

/**
 * A PNG whose header claims `width`×`height` but that holds no pixel data: enough to test that a
 * size cap is enforced before anything is decoded or allocated.
 */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(width, 8);
  ihdr.writeUInt32BE(height, 12);
  ihdr[16] = 8; // bit depth
  ihdr[17] = 6; // RGBA
  // The CRC is left zero: the cap must refuse the file before anything checks it.
  return Buffer.concat([signature, ihdr]);
}

/** The JPEG with an EXIF APP1 segment holding only an Orientation tag (1–8), as a phone writes it. */
export function withExifOrientation(jpeg: Buffer, orientation: number): Buffer {
  const segment = Buffer.alloc(36);
  segment.writeUInt16BE(0xffe1, 0);
  segment.writeUInt16BE(34, 2); // the length counts itself but not the marker
  segment.write('Exif\0\0', 4, 'latin1');
  segment.write('MM\0*', 10, 'latin1'); // big-endian TIFF header
  segment.writeUInt32BE(8, 14); // IFD0 right after the header
  segment.writeUInt16BE(1, 18); // one entry
  segment.writeUInt16BE(0x0112, 20); // Orientation
  segment.writeUInt16BE(3, 22); // SHORT
  segment.writeUInt32BE(1, 24); // one value
  segment.writeUInt16BE(orientation, 28);
  segment.writeUInt32BE(0, 32); // no next IFD
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}

/**
 * Opaque images bound for JPEG stay 3-channel RGB from the decode to the encode (downscale.ts). Each
 * RGB step must give exactly what the RGBA one gives, so the downscale's output is the same bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeImage,
  encodeImage,
  encodeRgbJpeg,
  encodeRgbJpegFrom,
  type ImageFormat,
  type RgbaBitmap,
} from '../../functions/core/images/codecs.ts';
import { downscaleImage, JPEG_MIN_QUALITY } from '../../functions/core/images/downscale.ts';
import { type Bitmap, Downsampler } from '../../functions/core/images/resize.ts';
import { jpegCodec } from '../../functions/core/images/wasm.ts';
import { encodeFixture, makePhotoBitmap, withExifOrientation } from '../support/image-fixtures.ts';

/** The RGB bytes of RGBA pixels (alpha dropped). */
function rgbOf(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let input = 0, out = 0; out < rgb.length; input += 4, out += 3) {
    rgb[out] = rgba[input] ?? 0;
    rgb[out + 1] = rgba[input + 1] ?? 0;
    rgb[out + 2] = rgba[input + 2] ?? 0;
  }
  return rgb;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

const photo = makePhotoBitmap(331, 217, { seed: 21 });
const photoRgba = new Uint8Array(photo.data);
const photoRgb = rgbOf(photoRgba);
const files = new Map<ImageFormat, Buffer>();

beforeAll(async () => {
  for (const format of ['jpeg', 'png', 'webp', 'gif', 'bmp', 'tiff'] as const) {
    files.set(format, await encodeFixture(photo, format, 92));
  }
});

function file(format: ImageFormat): Buffer {
  const bytes = files.get(format);
  if (!bytes) throw new Error(`no ${format} fixture`);
  return bytes;
}

describe('decoding opaque images as RGB', () => {
  it.each(['jpeg', 'png', 'webp', 'gif', 'bmp', 'tiff'] as const)(
    'gives the RGBA decode of %s without its alpha',
    async (format) => {
      const rgba = await decodeImage(file(format));
      const rgb = await decodeImage(file(format), { opaqueAsRgb: true });
      expect(rgba).toMatchObject({ channels: 4, hasAlpha: false });
      expect(rgb).toMatchObject({ channels: 3, hasAlpha: false, width: 331, height: 217, format });
      expect(same(rgb.data, rgbOf(rgba.data))).toBe(true);
    },
  );

  it('keeps an image with transparency RGBA', async () => {
    const png = await encodeFixture(
      makePhotoBitmap(120, 90, { seed: 5, transparentBackground: true }),
      'png',
    );
    const decoded = await decodeImage(png, { opaqueAsRgb: true });
    expect(decoded).toMatchObject({ channels: 4, hasAlpha: true });
    expect(decoded.data.length).toBe(120 * 90 * 4);
  });

  it.each([2, 3, 4, 5, 6, 7, 8])(
    'turns an RGB JPEG with EXIF orientation %d as it turns RGBA',
    async (orientation) => {
      const jpeg = withExifOrientation(file('jpeg'), orientation);
      const rgba = await decodeImage(jpeg);
      const rgb = await decodeImage(jpeg, { opaqueAsRgb: true });
      expect([rgb.width, rgb.height]).toEqual([rgba.width, rgba.height]);
      expect(same(rgb.data, rgbOf(rgba.data))).toBe(true);
    },
  );

  it('expands a greyscale JPEG to RGB as it does to RGBA', async () => {
    const width = 200;
    const height = 150;
    const grey = new Uint8Array(width * height);
    for (let index = 0; index < grey.length; index++) grey[index] = (index * 37 + (index >> 7) * 11) % 256;
    const jpeg = await jpegCodec.use((codec) => {
      const encoder = new codec.JPEGEncoder();
      try {
        encoder
          .getDecodedBuffer({ width, height, bitsPerSample: 8, componentCount: 1, isSigned: false })
          .set(grey);
        encoder.setQuality(90);
        encoder.encode();
        return Buffer.from(encoder.getEncodedBuffer());
      } finally {
        encoder.delete();
      }
    });
    const rgba = await decodeImage(jpeg);
    const rgb = await decodeImage(jpeg, { opaqueAsRgb: true });
    expect(rgb).toMatchObject({ channels: 3, width, height });
    expect(same(rgb.data, rgbOf(rgba.data))).toBe(true);
    expect(rgb.data[3 * 1000]).toBe(rgb.data[3 * 1000 + 2]);
  });
});

describe('downscaling a small JPEG through RGB', () => {
  it.each([
    // Already under the limit, at full size: the decoded pixels themselves are encoded.
    [5 * 1024 * 1024, 95],
    // Quality searched at full size with real encodes (a small image: no estimates).
    [undefined, undefined],
  ])('downscales a small JPEG to the bytes of the RGBA encode (limit %s)', async (limit, expectedQuality) => {
    const source = await decodeImage(file('jpeg'));
    const lowest = (await encodeImage(source, 'jpeg', { quality: 60 })).length;
    const highest = (await encodeImage(source, 'jpeg', { quality: 95 })).length;
    const maxBytes = limit ?? Math.round((lowest + highest) / 2);
    const result = await downscaleImage(file('jpeg'), {
      maxBytes,
      aspectRatioMode: 'original',
      outputFormat: 'original',
    });
    expect(result.facts).toMatchObject({ final_width: 331, final_height: 217 });
    if (expectedQuality !== undefined) expect(result.facts.jpeg_quality).toBe(expectedQuality);
    const expected = await encodeImage(source, 'jpeg', { quality: result.facts.jpeg_quality ?? 0 });
    expect(Buffer.compare(result.bytes, expected)).toBe(0);
  });
});

describe('resizing RGB', () => {
  const rgba = new Downsampler({ data: photoRgba, width: 331, height: 217 });
  const rgb = new Downsampler({ data: photoRgb, width: 331, height: 217, channels: 3 });

  it.each([
    // Triangle filter only; integer box reduction (2, 3) then the filter; one direction only.
    [250, 164],
    [160, 105],
    [100, 66],
    [331, 150],
    [200, 217],
    [331, 217],
  ])('gives the RGBA result without its alpha at %dx%d', (width, height) => {
    const fromRgba = rgba.resize(width, height);
    const fromRgb = rgb.resize(width, height);
    expect([fromRgb.width, fromRgb.height, fromRgb.channels]).toEqual([width, height, 3]);
    expect(same(fromRgb.data, rgbOf(fromRgba.data))).toBe(true);
  });

  it('resizes only the listed rows, into place in a larger buffer', () => {
    const rows = [0, 1, 2, 40, 41, 99, 163];
    const fromRgba = rgba.resizeRows(250, 164, rows);
    const target = new Uint8Array(7 + rows.length * 260 * 3).fill(9);
    rgb.resizeRowsInto(250, 164, rows, { data: target, byteOffset: 7 + 5 * 3, rowBytes: 260 * 3 });
    const expected = rgbOf(fromRgba.data);
    for (let index = 0; index < rows.length; index++) {
      const row = target.subarray(7 + index * 260 * 3 + 5 * 3, 7 + index * 260 * 3 + 255 * 3);
      expect(same(row, expected.subarray(index * 250 * 3, (index + 1) * 250 * 3))).toBe(true);
    }
    // Bytes outside the rows are left alone.
    expect(target[7 + 4 * 3]).toBe(9);
  });
});

describe('encoding RGB JPEGs', () => {
  it.each([
    // Through libjpeg-turbo, and small enough to go through jimp.
    [331, 217, 75],
    [60, 40, 90],
  ])('gives the bytes of the RGBA encode at %dx%d, quality %d', async (width, height, quality) => {
    const bitmap: RgbaBitmap = makePhotoBitmap(width, height, { seed: width });
    const rgba = new Uint8Array(bitmap.data);
    const rgb = rgbOf(rgba);
    const expected = await encodeImage({ data: rgba, width, height }, 'jpeg', { quality });
    expect(Buffer.compare(await encodeRgbJpeg({ data: rgb, width, height }, quality), expected)).toBe(0);
    const filled = await encodeRgbJpegFrom(width, height, quality, (target) => target.set(rgb));
    expect(Buffer.compare(filled, expected)).toBe(0);
  });

  it('encodes the RGB flat grey of the overhead probe as the RGBA flat one flattens', async () => {
    // downscale.ts measures the fixed JPEG overhead on flat images: 128 at alpha 128 in RGBA, 191 in RGB.
    const rgba = new Uint8Array(256 * 256 * 4).fill(128);
    const rgb = new Uint8Array(256 * 256 * 3).fill(191);
    const expected = await encodeImage({ data: rgba, width: 256, height: 256 }, 'jpeg', { quality: 60 });
    expect(Buffer.compare(await encodeRgbJpeg({ data: rgb, width: 256, height: 256 }, 60), expected)).toBe(0);
  });

  it('refuses a bitmap shorter than its dimensions', async () => {
    await expect(encodeRgbJpeg({ data: new Uint8Array(10), width: 10, height: 10 }, 80)).rejects.toThrow(
      RangeError,
    );
  });
});

describe('downscaling an opaque JPEG through RGB', () => {
  /** What the RGBA pipeline renders for this output: resized, then padded onto white when square. */
  function rgbaCanvas(source: Bitmap, width: number, height: number, side?: number): RgbaBitmap {
    const resized = new Downsampler(source).resize(width, height);
    if (side === undefined) return resized;
    const canvas = new Uint8Array(side * side * 4).fill(255);
    const top = (side - height) >> 1;
    const left = (side - width) >> 1;
    for (let row = 0; row < height; row++) {
      canvas.set(
        resized.data.subarray(row * width * 4, (row + 1) * width * 4),
        ((top + row) * side + left) * 4,
      );
    }
    return { data: canvas, width: side, height: side };
  }

  it.each(['original', 'square'] as const)(
    'returns the bytes the RGBA pipeline encodes for the same answer (%s aspect ratio)',
    async (aspectRatioMode) => {
      // 1.5 MP: the size estimates are used, and the final canvas is resized into the encoder.
      const jpeg = await encodeFixture(makePhotoBitmap(1500, 1000, { seed: 8 }), 'jpeg', 92);
      const source = await decodeImage(jpeg);
      // Half of what the lowest quality gives at full size: only smaller dimensions fit.
      const lowest = await encodeImage(source, 'jpeg', { quality: JPEG_MIN_QUALITY });
      const result = await downscaleImage(jpeg, {
        maxBytes: Math.round(lowest.length / 2),
        aspectRatioMode,
        outputFormat: 'original',
      });
      const { final_width: side, jpeg_quality: quality, scale } = result.facts;
      expect(scale).toBeLessThan(1);
      const width = side;
      const height = Math.round((side * 1000) / 1500);
      const canvas = rgbaCanvas(
        { data: source.data, width: 1500, height: 1000 },
        width,
        height,
        aspectRatioMode === 'square' ? side : undefined,
      );
      const expected = await encodeImage(canvas, 'jpeg', { quality: quality ?? 0 });
      expect(Buffer.compare(result.bytes, expected)).toBe(0);
    },
  );
});

import { beforeAll, describe, expect, it } from 'vitest';
import { InputInvalidError, InputTooLargeError } from '../../functions/core/errors.ts';
import {
  decodeImage,
  detectFormat,
  encodeImage,
  type ImageFormat,
  type RgbaBitmap,
  readImageSize,
  wasmAssetFiles,
} from '../../functions/core/images/codecs.ts';
import {
  type DownscaleOptions,
  downscaleImage,
  JPEG_MAX_QUALITY,
  JPEG_MIN_QUALITY,
  MAX_INPUT_BYTES,
  sampleRows,
} from '../../functions/core/images/downscale.ts';
import { Downsampler } from '../../functions/core/images/resize.ts';
import {
  encodeFixture,
  makePhotoBitmap,
  pngHeaderClaiming,
  withExifOrientation,
} from '../support/image-fixtures.ts';

const MB = 1024 * 1024;
const INPUT_FORMATS: ImageFormat[] = ['jpeg', 'png', 'gif', 'webp', 'bmp', 'tiff'];

function options(overrides: Partial<DownscaleOptions> & { maxBytes: number }): DownscaleOptions {
  return { aspectRatioMode: 'original', outputFormat: 'original', ...overrides };
}

/** Mean absolute difference per channel between two same-sized RGBA bitmaps. */
function meanDifference(a: RgbaBitmap, b: RgbaBitmap): number {
  let total = 0;
  for (let index = 0; index < a.data.length; index++)
    total += Math.abs((a.data[index] ?? 0) - (b.data[index] ?? 0));
  return total / a.data.length;
}

function pixel(bitmap: RgbaBitmap, x: number, y: number): number[] {
  const index = (y * bitmap.width + x) * 4;
  return Array.from(bitmap.data.subarray(index, index + 4));
}

/** The same picture resized to `longSide` as downscale renders it, encoded at `quality`. */
async function encodedAtLongSide(source: RgbaBitmap, longSide: number, quality: number | undefined) {
  const scale = longSide / Math.max(source.width, source.height);
  const width = source.width >= source.height ? longSide : Math.round(source.width * scale);
  const height = source.height > source.width ? longSide : Math.round(source.height * scale);
  const resized = new Downsampler({
    data: Uint8Array.from(source.data),
    width: source.width,
    height: source.height,
  }).resize(width, height);
  return quality === undefined ? encodeImage(resized, 'png') : encodeImage(resized, 'jpeg', { quality });
}

// Fixtures are real files made once: photo-like pixels, so sizes behave as a camera's would.
const photo = makePhotoBitmap(480, 360, { seed: 11 });
const files = new Map<ImageFormat, Buffer>();
let largeJpeg: Buffer;
let transparentPng: Buffer;

beforeAll(async () => {
  for (const format of INPUT_FORMATS) files.set(format, await encodeFixture(photo, format, 92));
  // 1.6 MP: above the size at which the search estimates from row samples, so that path is covered.
  largeJpeg = await encodeFixture(makePhotoBitmap(1600, 1000, { seed: 12 }), 'jpeg', 92);
  transparentPng = await encodeFixture(
    makePhotoBitmap(400, 300, { seed: 13, transparentBackground: true }),
    'png',
  );
});

function file(format: ImageFormat): Buffer {
  const bytes = files.get(format);
  if (!bytes) throw new Error(`no ${format} fixture`);
  return bytes;
}

describe('codecs', () => {
  it.each(INPUT_FORMATS)('detects and reads the header of %s', (format) => {
    expect(detectFormat(file(format))).toBe(format);
    expect(readImageSize(file(format), format)).toEqual({ width: 480, height: 360 });
  });

  it('detects nothing in bytes that are not one of the accepted images', () => {
    expect(detectFormat(Buffer.from('BM is not a bitmap, and this is plain text'))).toBeUndefined();
    expect(detectFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(detectFormat(new Uint8Array(0))).toBeUndefined();
  });

  it.each([
    ['jpeg', 6],
    ['webp', 8],
    ['png', 0],
    ['bmp', 0],
    ['tiff', 0],
    // GIF holds at most 256 colours, so a photo comes back dithered.
    ['gif', 20],
  ] as const)(
    'decodes %s to the pixels that were encoded (mean difference <= %d)',
    async (format, tolerance) => {
      const decoded = await decodeImage(file(format));
      expect(decoded).toMatchObject({ width: 480, height: 360, format, hasAlpha: false });
      expect(decoded.data.length).toBe(480 * 360 * 4);
      expect(meanDifference(decoded, photo)).toBeLessThanOrEqual(tolerance);
    },
  );

  it('reports transparency, and keeps it through PNG and WebP', async () => {
    const png = await decodeImage(transparentPng);
    expect(png.hasAlpha).toBe(true);
    expect(pixel(png, 0, 0)[3]).toBe(0);
    expect(pixel(png, 200, 150)[3]).toBe(255);
    const webp = await decodeImage(await encodeImage(png, 'webp', { quality: 80 }));
    expect(webp.hasAlpha).toBe(true);
    expect(pixel(webp, 0, 0)[3]).toBe(0);
  });

  it('encodes opaque PNG as RGB and transparent PNG as RGBA', async () => {
    const opaque = await encodeImage(photo, 'png');
    const transparent = await encodeImage(await decodeImage(transparentPng), 'png');
    // IHDR colour type: 2 = RGB, 6 = RGBA.
    expect(opaque[25]).toBe(2);
    expect(transparent[25]).toBe(6);
  });

  it('encodes PNG losslessly from a view into a larger buffer, translucent pixels included', async () => {
    // Pixels that start 4 bytes into their buffer and end before its end, as the search's bands do.
    const width = 97;
    const height = 31;
    const source = makePhotoBitmap(width, height, { seed: 3 });
    const buffer = new Uint8Array(source.data.length + 8).fill(7);
    buffer.set(source.data, 4);
    for (let index = 4 + 3; index < 4 + source.data.length; index += 12) buffer[index] = index % 256;
    const view = buffer.subarray(4, 4 + source.data.length);
    const decoded = await decodeImage(await encodeImage({ data: view, width, height }, 'png'));
    expect([decoded.width, decoded.height, decoded.hasAlpha]).toEqual([width, height, true]);
    expect(Buffer.compare(Buffer.from(decoded.data), Buffer.from(view))).toBe(0);
  });

  it('decodes a JPEG to opaque RGBA with its colours in place', async () => {
    const stored = new Uint8Array(320 * 240 * 4);
    for (let index = 0; index < 320 * 240; index++) stored.set([200, 60, 20, 255], index * 4);
    const decoded = await decodeImage(await encodeImage({ data: stored, width: 320, height: 240 }, 'jpeg'));
    const [red, green, blue, alpha] = pixel(decoded, 160, 120);
    expect(alpha).toBe(255);
    expect(Math.abs((red ?? 0) - 200)).toBeLessThanOrEqual(3);
    expect(Math.abs((green ?? 0) - 60)).toBeLessThanOrEqual(3);
    expect(Math.abs((blue ?? 0) - 20)).toBeLessThanOrEqual(3);
  });

  it.each([
    // orientation, displayed size, colour of the displayed top-left and bottom-right corners
    [1, [160, 80], 'red', 'blue'],
    [3, [160, 80], 'blue', 'red'],
    [6, [80, 160], 'red', 'blue'],
    [8, [80, 160], 'blue', 'red'],
  ] as const)(
    'turns a JPEG with EXIF orientation %d the way it is meant to be seen',
    async (orientation, size, topLeft, bottomRight) => {
      // Stored 160x80: left half red, right half blue.
      const stored = new Uint8Array(160 * 80 * 4);
      for (let index = 0; index < 160 * 80; index++) {
        const red = index % 160 < 80;
        stored.set(red ? [255, 0, 0, 255] : [0, 0, 255, 255], index * 4);
      }
      const jpeg = withExifOrientation(
        await encodeImage({ data: stored, width: 160, height: 80 }, 'jpeg'),
        orientation,
      );
      const decoded = await decodeImage(jpeg);
      expect([decoded.width, decoded.height]).toEqual(size);
      const colour = (rgba: number[]) => ((rgba[0] ?? 0) > (rgba[2] ?? 0) ? 'red' : 'blue');
      expect(colour(pixel(decoded, 4, 4))).toBe(topLeft);
      expect(colour(pixel(decoded, decoded.width - 5, decoded.height - 5))).toBe(bottomRight);
      const result = await downscaleImage(jpeg, options({ maxBytes: MB }));
      expect([result.facts.original_width, result.facts.original_height]).toEqual(size);
    },
  );

  it('lists the .wasm files it loads, for the Lambda bundle', () => {
    const files = wasmAssetFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const path of files) expect(path).toMatch(/^\/.*\.wasm$/);
  });
});

describe('downscaleImage', () => {
  /** Half of what the lowest accepted quality gives at full size: only smaller dimensions can fit. */
  async function dimensionLimit(): Promise<number> {
    const source = await decodeImage(largeJpeg);
    return Math.round((await encodeImage(source, 'jpeg', { quality: JPEG_MIN_QUALITY })).length / 2);
  }

  it('fits a JPEG by lowering quality, then keeping the largest dimensions that fit, aspect ratio intact', async () => {
    const maxBytes = await dimensionLimit();
    expect(largeJpeg.length).toBeGreaterThan(maxBytes);
    const result = await downscaleImage(largeJpeg, options({ maxBytes }));
    expect(result.bytes.length).toBeLessThanOrEqual(maxBytes);
    expect(detectFormat(result.bytes)).toBe('jpeg');
    expect(result).toMatchObject({ contentType: 'image/jpeg', extension: 'jpg' });
    const output = await decodeImage(result.bytes);
    expect(result.facts).toMatchObject({
      original_bytes: largeJpeg.length,
      original_width: 1600,
      original_height: 1000,
      original_format: 'jpeg',
      final_bytes: result.bytes.length,
      final_width: output.width,
      final_height: output.height,
      final_format: 'jpeg',
    });
    expect(output.width).toBeLessThan(1600);
    expect(Math.abs(output.width / output.height - 1.6)).toBeLessThan(0.01);
    expect(result.facts.scale).toBeCloseTo(output.width / 1600, 3);
    expect(result.facts.jpeg_quality).toBeGreaterThanOrEqual(JPEG_MIN_QUALITY);
    expect(result.facts.attempts).toBeGreaterThan(1);

    // The largest dimensions that fit: 4% larger would not, even at the lowest quality.
    const source = await decodeImage(largeJpeg);
    const larger = Math.round(result.facts.final_width * 1.04);
    const biggerFile = await encodedAtLongSide(source, larger, JPEG_MIN_QUALITY);
    expect(biggerFile.length).toBeGreaterThan(maxBytes);
  });

  it('fits a PNG by reducing its dimensions, and keeps the largest that fit', async () => {
    const png = file('png');
    const maxBytes = 120_000;
    expect(png.length).toBeGreaterThan(maxBytes);
    const result = await downscaleImage(png, options({ maxBytes }));
    expect(result.bytes.length).toBeLessThanOrEqual(maxBytes);
    expect(detectFormat(result.bytes)).toBe('png');
    expect(result.facts).toMatchObject({ final_format: 'png', jpeg_quality: null });
    const output = await decodeImage(result.bytes);
    expect(output.width).toBeLessThan(480);
    expect(Math.abs(output.width / output.height - 480 / 360)).toBeLessThan(0.01);
    const larger = Math.round(output.width * 1.04);
    expect((await encodedAtLongSide(photo, larger, undefined)).length).toBeGreaterThan(maxBytes);
  });

  it('keeps the dimensions of an image already under the limit, at the highest quality', async () => {
    const result = await downscaleImage(file('jpeg'), options({ maxBytes: 5 * MB }));
    expect(result.facts).toMatchObject({
      final_width: 480,
      final_height: 360,
      jpeg_quality: JPEG_MAX_QUALITY,
      scale: 1,
    });
    const png = await downscaleImage(file('png'), options({ maxBytes: 5 * MB }));
    expect(png.facts).toMatchObject({ final_width: 480, final_height: 360, final_format: 'png', scale: 1 });
  });

  it('searches quality at full size when the lowest quality fits', async () => {
    const lowest = (await encodeImage(photo, 'jpeg', { quality: JPEG_MIN_QUALITY })).length;
    const highest = (await encodeImage(photo, 'jpeg', { quality: JPEG_MAX_QUALITY })).length;
    const maxBytes = Math.round((lowest + highest) / 2);
    const result = await downscaleImage(file('jpeg'), options({ maxBytes }));
    const quality = result.facts.jpeg_quality ?? 0;
    expect(result.facts).toMatchObject({ final_width: 480, final_height: 360 });
    expect(quality).toBeGreaterThan(JPEG_MIN_QUALITY);
    expect(quality).toBeLessThan(JPEG_MAX_QUALITY);
    // The highest quality that fits: one step up would not.
    const source = await decodeImage(file('jpeg'));
    expect((await encodeImage(source, 'jpeg', { quality: quality + 1 })).length).toBeGreaterThan(maxBytes);
  });

  it('pads to a centred white square for JPEG', async () => {
    const result = await downscaleImage(
      file('jpeg'),
      options({ maxBytes: 5 * MB, aspectRatioMode: 'square' }),
    );
    const output = await decodeImage(result.bytes);
    expect([output.width, output.height]).toEqual([480, 480]);
    expect(result.facts).toMatchObject({ final_width: 480, final_height: 480 });
    // 60 rows of padding above and below the 360-row picture.
    for (const [x, y] of [
      [0, 0],
      [479, 20],
      [240, 479],
    ] as const) {
      for (const channel of pixel(output, x, y).slice(0, 3)) expect(channel).toBeGreaterThanOrEqual(250);
    }
    const centre = pixel(output, 240, 240);
    const source = pixel(photo, 240, 180);
    for (let channel = 0; channel < 3; channel++) {
      expect(Math.abs((centre[channel] ?? 0) - (source[channel] ?? 0))).toBeLessThan(40);
    }
  });

  it('pads to a centred transparent square for PNG, and still fits the limit', async () => {
    const maxBytes = 100_000;
    const result = await downscaleImage(file('png'), options({ maxBytes, aspectRatioMode: 'square' }));
    expect(result.bytes.length).toBeLessThanOrEqual(maxBytes);
    const output = await decodeImage(result.bytes);
    expect(output.width).toBe(output.height);
    expect(output.width).toBeLessThan(480);
    expect(pixel(output, 0, 0)[3]).toBe(0);
    expect(pixel(output, output.width >> 1, output.height - 1)[3]).toBe(0);
    expect(pixel(output, output.width >> 1, output.height >> 1)[3]).toBe(255);
  });

  it('pads a tall image left and right', async () => {
    const tall = await encodeFixture(makePhotoBitmap(200, 320, { seed: 14 }), 'jpeg', 90);
    const result = await downscaleImage(tall, options({ maxBytes: MB, aspectRatioMode: 'square' }));
    const output = await decodeImage(result.bytes);
    expect([output.width, output.height]).toEqual([320, 320]);
    for (const channel of pixel(output, 5, 160).slice(0, 3)) expect(channel).toBeGreaterThanOrEqual(250);
    for (const channel of pixel(output, 314, 160).slice(0, 3)) expect(channel).toBeGreaterThanOrEqual(250);
  });

  it.each(INPUT_FORMATS)('accepts %s input and fits the limit', async (format) => {
    const maxBytes = 40_000;
    const result = await downscaleImage(file(format), options({ maxBytes }));
    expect(result.bytes.length).toBeLessThanOrEqual(maxBytes);
    expect(result.facts.original_format).toBe(format);
    // 'original' keeps JPEG and PNG; the others are opaque here, so they become JPEG.
    expect(result.facts.final_format).toBe(format === 'png' ? 'png' : 'jpeg');
    const output = await decodeImage(result.bytes);
    expect(Math.abs(output.width / output.height - 480 / 360)).toBeLessThan(0.02);
  });

  it("gives PNG for 'original' when a format we cannot write has transparency", async () => {
    const webp = await encodeImage(await decodeImage(transparentPng), 'webp', { quality: 90 });
    const result = await downscaleImage(webp, options({ maxBytes: MB }));
    expect(result.facts).toMatchObject({ original_format: 'webp', final_format: 'png' });
    expect(result.contentType).toBe('image/png');
  });

  it('converts on request, flattening transparency onto white for JPEG', async () => {
    const result = await downscaleImage(transparentPng, options({ maxBytes: MB, outputFormat: 'jpeg' }));
    expect(result.facts.final_format).toBe('jpeg');
    const output = await decodeImage(result.bytes);
    for (const channel of pixel(output, 2, 2).slice(0, 3)) expect(channel).toBeGreaterThanOrEqual(250);
    const png = await downscaleImage(file('jpeg'), options({ maxBytes: MB, outputFormat: 'png' }));
    expect(detectFormat(png.bytes)).toBe('png');
  });

  it('never returns more than the limit, even when the size estimates are wrong', async () => {
    // Flat grey where the estimate samples, noise everywhere else: every estimate says "tiny", so
    // the search settles on full size at the highest quality, and only real encodes can save it.
    const width = 1200;
    const height = 1000;
    const sampled = new Set(sampleRows(height));
    const data = new Uint8Array(width * height * 4).fill(128);
    let seed = 1;
    for (let row = 0; row < height; row++) {
      if (sampled.has(row)) continue;
      for (let index = row * width * 4; index < (row + 1) * width * 4; index++) {
        seed = (seed * 1_103_515_245 + 12_345) >>> 0;
        data[index] = index % 4 === 3 ? 255 : seed >>> 24;
      }
    }
    const input = await encodeImage({ data, width, height }, 'png');
    const maxBytes = 200_000;
    const result = await downscaleImage(input, options({ maxBytes, outputFormat: 'jpeg' }));
    expect(result.bytes.length).toBeLessThanOrEqual(maxBytes);
    expect(result.facts.final_width).toBeLessThan(width);
  });

  it('refuses images over 50 megapixels from the header alone', async () => {
    const claim = pngHeaderClaiming(10_000, 5_001);
    await expect(downscaleImage(claim, options({ maxBytes: MB }))).rejects.toThrow(InputTooLargeError);
    await expect(decodeImage(claim)).rejects.toThrow(/50 MP/);
  });

  it('refuses inputs over 20 MiB', async () => {
    const oversized = Buffer.alloc(MAX_INPUT_BYTES + 1);
    file('png').copy(oversized);
    await expect(downscaleImage(oversized, options({ maxBytes: MB }))).rejects.toThrow(InputTooLargeError);
  });

  it('refuses bytes that are not an accepted image, and corrupt images', async () => {
    await expect(
      downscaleImage(Buffer.from('%PDF-1.7 not an image'), options({ maxBytes: MB })),
    ).rejects.toThrow(InputInvalidError);
    const truncated = file('png').subarray(0, 200);
    await expect(downscaleImage(truncated, options({ maxBytes: MB }))).rejects.toThrow(InputInvalidError);
    const corrupt = Buffer.concat([file('jpeg').subarray(0, 600), Buffer.alloc(4000, 0x00)]);
    await expect(downscaleImage(corrupt, options({ maxBytes: MB }))).rejects.toThrow(InputInvalidError);
  });

  it('refuses a limit that not even a 1-pixel image can meet', async () => {
    const failure = await downscaleImage(file('jpeg'), options({ maxBytes: 100 })).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(InputInvalidError);
    expect(String(failure)).toMatch(/cannot be made to fit in 100 bytes/);
  });
});

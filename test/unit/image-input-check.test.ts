import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputInvalidError, InputTooLargeError } from '../../functions/core/errors.ts';
import { encodeImage } from '../../functions/core/images/codecs.ts';
import { detectFormat, type ImageFormat, readImageSize } from '../../functions/core/images/formats.ts';
import {
  checkImageHeader,
  type ImageLimits,
  readImageHeader,
} from '../../functions/core/images/input-check.ts';
import { DOWNSCALE_INPUT_LIMITS } from '../../functions/core/operations/downscale.ts';
import { PROVIDER_SETTINGS } from '../../functions/core/providers/settings.ts';
import { makePhotoBitmap } from '../support/image-fixtures.ts';

/**
 * The header check every input image passes before a provider call or a decode: format and size
 * from the first bytes of the file. Each crafted file here is a few dozen bytes whose header claims
 * a size its body could never hold; the check answers from the header alone.
 */

// ---- crafted headers ----

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG with a valid IHDR and IEND and no pixel data at all. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** SOI, a JFIF APP0 segment, a baseline SOF0 frame header, EOI: no scan. */
function jpegClaiming(width: number, height: number): Buffer {
  const app0 = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00,
  ]);
  const sof0 = Buffer.from([
    0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
  ]);
  sof0.writeUInt16BE(height, 5);
  sof0.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof0, Buffer.from([0xff, 0xd9])]);
}

function riff(chunkType: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(12 + payload.length, 4);
  header.write('WEBP', 8, 'ascii');
  header.write(chunkType, 12, 'ascii');
  header.writeUInt32LE(payload.length, 16);
  return Buffer.concat([header, payload]);
}

/** Extended WebP: the canvas size in VP8X, 24 bits a side. */
function webpVp8xClaiming(width: number, height: number): Buffer {
  const payload = Buffer.alloc(10);
  payload.writeUIntLE(width - 1, 4, 3);
  payload.writeUIntLE(height - 1, 7, 3);
  return riff('VP8X', payload);
}

/** Lossless WebP: 14 bits a side, so 16384 x 16384 is the most it can claim. */
function webpLosslessClaiming(width: number, height: number): Buffer {
  const payload = Buffer.alloc(5);
  payload[0] = 0x2f;
  payload.writeUInt32LE(((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), 1);
  return riff('VP8L', payload);
}

/** Lossy WebP: frame tag, start code, 14-bit sides. */
function webpLossyClaiming(width: number, height: number): Buffer {
  const payload = Buffer.alloc(10);
  payload.set([0x9d, 0x01, 0x2a], 3);
  payload.writeUInt16LE(width, 6);
  payload.writeUInt16LE(height, 8);
  return riff('VP8 ', payload);
}

/** A GIF with the given logical screen and one frame descriptor at (left, top) of the given size. */
function gifClaiming(
  screen: [number, number],
  frame: { left: number; top: number; width: number; height: number },
): Buffer {
  const header = Buffer.alloc(13);
  header.write('GIF89a', 0, 'ascii');
  header.writeUInt16LE(screen[0], 6);
  header.writeUInt16LE(screen[1], 8);
  // A graphic control extension first, so the frame is only reached by skipping a block.
  const extension = Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(frame.left, 1);
  descriptor.writeUInt16LE(frame.top, 3);
  descriptor.writeUInt16LE(frame.width, 5);
  descriptor.writeUInt16LE(frame.height, 7);
  // LZW code size, one empty data sub-block run, trailer.
  return Buffer.concat([header, extension, descriptor, Buffer.from([0x02, 0x00, 0x3b])]);
}

function bmpClaiming(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(54);
  bytes.write('BM', 0, 'ascii');
  bytes.writeUInt32LE(54, 2);
  bytes.writeUInt32LE(54, 10);
  bytes.writeUInt32LE(40, 14);
  bytes.writeInt32LE(width, 18);
  bytes.writeInt32LE(height, 22);
  return bytes;
}

function tiffClaiming(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(8 + 2 + 2 * 12 + 4);
  bytes.write('II*\0', 0, 'latin1');
  bytes.writeUInt32LE(8, 4);
  bytes.writeUInt16LE(2, 8);
  [
    [256, width],
    [257, height],
  ].forEach(([tag, value], index) => {
    const entry = 10 + index * 12;
    bytes.writeUInt16LE(tag ?? 0, entry);
    bytes.writeUInt16LE(4, entry + 2); // LONG
    bytes.writeUInt32LE(1, entry + 4);
    bytes.writeUInt32LE(value ?? 0, entry + 8);
  });
  return bytes;
}

const WEB: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];
const limits = (overrides: Partial<ImageLimits> = {}): ImageLimits => ({
  service: 'Example service',
  formats: WEB,
  maxPixels: 16_000_000,
  source: 'test',
  ...overrides,
});
const input = (bytes: Buffer, field = 'input_image_asset_url') => ({ field, bytes });

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('Header sizes of files that claim 20000 x 20000 pixels', () => {
  it.each([
    ['PNG', pngClaiming(20_000, 20_000), 'png', { width: 20_000, height: 20_000 }],
    ['JPEG', jpegClaiming(20_000, 20_000), 'jpeg', { width: 20_000, height: 20_000 }],
    ['WebP (VP8X)', webpVp8xClaiming(20_000, 20_000), 'webp', { width: 20_000, height: 20_000 }],
    ['WebP (VP8L)', webpLosslessClaiming(16_384, 16_384), 'webp', { width: 16_384, height: 16_384 }],
    ['WebP (VP8)', webpLossyClaiming(16_383, 9_000), 'webp', { width: 16_383, height: 9_000 }],
    [
      'GIF',
      gifClaiming([20_000, 20_000], { left: 0, top: 0, width: 1, height: 1 }),
      'gif',
      { width: 20_000, height: 20_000 },
    ],
    ['BMP', bmpClaiming(20_000, -20_000), 'bmp', { width: 20_000, height: 20_000 }],
    ['TIFF', tiffClaiming(20_000, 20_000), 'tiff', { width: 20_000, height: 20_000 }],
  ] as const)('reads %s from %# bytes of header', (_name, bytes, format, size) => {
    expect(bytes.length).toBeLessThan(100);
    expect(detectFormat(bytes)).toBe(format);
    expect(readImageSize(bytes, format)).toEqual(size);
  });

  it('widens a GIF to a frame that claims more than its logical screen', () => {
    const bytes = gifClaiming([10, 10], { left: 100, top: 50, width: 20_000, height: 20_000 });
    expect(readImageSize(bytes, 'gif')).toEqual({ width: 20_100, height: 20_050 });
  });

  it.each([
    ['png', 37, 23],
    ['jpeg', 64, 48],
    ['webp', 50, 31],
  ] as const)('agrees with a real %s encoder on the size it wrote', async (format, width, height) => {
    const bytes = await encodeImage(makePhotoBitmap(width, height), format);
    expect(readImageSize(bytes, format)).toEqual({ width, height });
  });
});

describe('checkImageHeader', () => {
  it.each([
    ['PNG', pngClaiming(20_000, 20_000)],
    ['JPEG', jpegClaiming(20_000, 20_000)],
    ['WebP', webpVp8xClaiming(20_000, 20_000)],
  ])('refuses a %s claiming 20000 x 20000, naming the field, the size and the limit', (_name, bytes) => {
    const error = thrown(() => checkImageHeader(input(bytes), limits({ maxSide: 4096 })));
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toBe(
      'input_image_asset_url is 20000x20000, which Example service does not take: each side must be at most 4,096 pixels; it must have at most 16,000,000 pixels in total (it has 400,000,000)',
    );
  });

  it('answers the format, content type, extension and size of an image within the limits', () => {
    expect(checkImageHeader(input(webpVp8xClaiming(300, 200)), limits())).toEqual({
      format: 'webp',
      contentType: 'image/webp',
      extension: 'webp',
      width: 300,
      height: 200,
    });
  });

  it('lists every rule the size breaks: small sides, few pixels, a narrow aspect', () => {
    const rules = limits({ minSide: 64, minPixels: 4_096, maxAspect: 2.5 });
    expect(checkImageHeader(input(pngClaiming(64, 64)), rules)).toMatchObject({ width: 64, height: 64 });
    expect(thrown(() => checkImageHeader(input(pngClaiming(300, 40)), rules)).message).toBe(
      'input_image_asset_url is 300x40, which Example service does not take: each side must be at least 64 pixels; its aspect ratio must be between 1:2.5 and 2.5:1',
    );
    expect(thrown(() => checkImageHeader(input(pngClaiming(60, 60)), rules)).message).toMatch(
      /each side must be at least 64 pixels; it must have at least 4,096 pixels in total \(it has 3,600\)$/,
    );
  });

  it.each([
    ['a PNG signature alone', pngClaiming(10, 10).subarray(0, 8), 'is not a readable PNG image'],
    ['a PNG cut inside IHDR', pngClaiming(10, 10).subarray(0, 20), 'is not a readable PNG image'],
    [
      'a PNG whose first chunk is not IHDR',
      Buffer.concat([pngClaiming(10, 10).subarray(0, 8), chunk('tEXt', Buffer.alloc(13, 0x41))]),
      'is not a readable PNG image',
    ],
    [
      'a JPEG cut before its frame header',
      jpegClaiming(10, 10).subarray(0, 24),
      'is not a readable JPEG image',
    ],
    ['a JPEG whose frame says height 0', jpegClaiming(10, 0), 'is not a readable JPEG image'],
    ['a WebP cut inside VP8X', webpVp8xClaiming(10, 10).subarray(0, 26), 'is not a readable WebP image'],
    ['a PNG claiming 0 pixels wide', pngClaiming(0, 10), 'is not a readable PNG image'],
  ])('refuses %s as unreadable', (_name, bytes, message) => {
    const error = thrown(() => checkImageHeader(input(bytes), limits()));
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toBe(`input_image_asset_url ${message}`);
  });

  it.each([
    ['text', Buffer.from('not an image at all'), ''],
    ['an empty file', Buffer.alloc(0), ''],
    ['a GIF', gifClaiming([10, 10], { left: 0, top: 0, width: 10, height: 10 }), ' (it is GIF)'],
    ['a BMP', bmpClaiming(10, 10), ' (it is BMP)'],
    ['a TIFF', tiffClaiming(10, 10), ' (it is TIFF)'],
  ])('refuses %s as a format the service does not take', (_name, bytes, found) => {
    const error = thrown(() => checkImageHeader(input(bytes, 'input_sketch_asset_url'), limits()));
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toBe(
      `input_sketch_asset_url must be a PNG, JPEG or WebP image for Example service${found}`,
    );
  });

  it('refuses a file over the byte limit as too large, before reading its header', () => {
    const bytes = Buffer.concat([pngClaiming(10, 10), Buffer.alloc(2_000)]);
    const error = thrown(() =>
      checkImageHeader(input(bytes), limits({ maxBytes: 1_000, bytesReason: 'its requests are small' })),
    );
    expect(error).toBeInstanceOf(InputTooLargeError);
    expect(error.message).toBe(
      `input_image_asset_url is ${bytes.length.toLocaleString('en-US')} bytes; Example service takes images of at most 1,000 bytes (its requests are small)`,
    );
  });

  it('reads a header without judging its size (readImageHeader)', () => {
    expect(readImageHeader(input(jpegClaiming(20_000, 20_000)), limits())).toMatchObject({
      format: 'jpeg',
      width: 20_000,
      height: 20_000,
    });
  });
});

describe('Every image input of every provider and of downscale refuses 20000 x 20000', () => {
  const everyLimit = [
    ...PROVIDER_SETTINGS.flatMap((settings) =>
      Object.entries(settings.inputImages ?? {}).map(
        ([operation, entry]) => [`${settings.name} ${operation}`, entry] as const,
      ),
    ),
    ['bff downscale', DOWNSCALE_INPUT_LIMITS] as const,
  ];

  it('has limits for each operation that takes an image', () => {
    expect(everyLimit.map(([name]) => name).sort()).toEqual(
      [
        'bff downscale',
        'flux image-to-image',
        'openai image-to-image',
        'recraft image-inpaint',
        'recraft image-to-image',
        'recraft remove-background',
        'recraft upscale',
        'stability image-to-image',
        'stability image-to-model',
        'stability remove-background',
        'stability search-and-recolor',
        'stability sketch-to-image',
        'stability upscale',
        'tripo image-to-model',
      ].sort(),
    );
  });

  it.each(everyLimit)('%s: refused from the header, with the pixel limit named', (_name, entry) => {
    expect(entry.maxPixels).toBeLessThanOrEqual(50_000_000);
    expect(entry.source).toMatch(/checked 2026-12|this service/);
    const error = thrown(() => checkImageHeader(input(pngClaiming(20_000, 20_000)), entry));
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toContain(
      `input_image_asset_url is 20000x20000, which ${entry.service} does not take`,
    );
    expect(error.message).toContain(
      `it must have at most ${entry.maxPixels.toLocaleString('en-US')} pixels in total (it has 400,000,000)`,
    );
  });
});

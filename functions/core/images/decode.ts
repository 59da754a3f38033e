/**
 * Decoding images to 8-bit RGBA without the encoders: what a function that only reads images (a
 * Recraft mask check) loads. codecs.ts builds the full decoder (with jimp for GIF, BMP and TIFF) and
 * the encoders on top of this.
 */
import { decode as decodePngWasm, init as initPngWasm } from '@jsquash/png/decode.js';
import createWebpDecoderModule from '@jsquash/webp/codec/dec/webp_dec.js';
import { InputInvalidError, InputTooLargeError } from '../errors.ts';
import {
  ascii,
  detectFormat,
  type ImageFormat,
  type ImageSize,
  readImageSize,
  readUint16BE,
  readUint16LE,
  readUint32BE,
  readUint32LE,
  startsWith,
} from './formats.ts';
import {
  asUint8,
  type EmscriptenFactory,
  instantiateWith,
  isCodecFailure,
  jpegCodec,
  LazyCodec,
  loadWasmModule,
  type WasmAsset,
  WasmAssetError,
} from './wasm.ts';

/** 8-bit RGBA pixels, row-major, no padding between rows. */
export interface RgbaBitmap {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface DecodedImage {
  /** RGBA, or RGB when `channels` is 3. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 4 (RGBA) unless the caller asked for opaque images as RGB (DecodeOptions.opaqueAsRgb). */
  channels: 3 | 4;
  format: ImageFormat;
  /** True when at least one pixel is not fully opaque. */
  hasAlpha: boolean;
}

export interface DecodeOptions {
  /** Images whose header claims more pixels than this are refused before any pixel is allocated. */
  maxPixels?: number;
  /**
   * Return an opaque image as 3-channel RGB instead of RGBA: what a JPEG decodes to, so no
   * conversion either way when it is re-encoded as JPEG (downscale.ts). Images with transparency
   * stay RGBA.
   */
  opaqueAsRgb?: boolean;
}

/** The API's input cap (docs/api.md, Downscale). */
export const MAX_INPUT_PIXELS = 50_000_000;

/** The decoders' .wasm files (with libjpeg-turbo's, which wasm.ts adds). */
export const DECODER_WASM_ASSETS: readonly WasmAsset[] = [
  { fileName: 'squoosh_png_bg.wasm', specifier: '@jsquash/png/codec/pkg/squoosh_png_bg.wasm' },
  { fileName: 'webp_dec.wasm', specifier: '@jsquash/webp/codec/dec/webp_dec.wasm' },
];
const [PNG_ASSET, WEBP_DECODER_ASSET] = DECODER_WASM_ASSETS as [WasmAsset, WasmAsset];

type Pixels = { data: Uint8Array; width: number; height: number };
/** Decoded pixels, RGBA unless `channels` is 3. */
type DecodedPixels = Pixels & { channels: 3 | 4 };

/** Decodes what the WASM codecs cannot: GIF, BMP, TIFF, and JPEGs that are not RGB. */
export type FallbackDecoder = (bytes: Uint8Array, format: ImageFormat) => Promise<Pixels>;

async function refuseFormat(_bytes: Uint8Array, format: ImageFormat): Promise<Pixels> {
  throw new Error(`${format.toUpperCase()} images (or this JPEG's colour space) are not decoded here`);
}

interface WebpDecoderModule {
  decode(data: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } | null;
}

let pngReady: Promise<unknown> | undefined;
function ensurePng(): Promise<unknown> {
  pngReady ??= initPngWasm(loadWasmModule(PNG_ASSET));
  return pngReady;
}

const webpDecoder = new LazyCodec<WebpDecoderModule>(() => {
  const factory: EmscriptenFactory<WebpDecoderModule> = createWebpDecoderModule;
  return factory({
    noInitialRun: true,
    instantiateWasm: instantiateWith(loadWasmModule(WEBP_DECODER_ASSET)),
  });
});

function anyTransparentPixel(rgba: Uint8Array): boolean {
  for (let index = 3; index < rgba.length; index += 4) {
    if (rgba[index] !== 255) return true;
  }
  return false;
}

async function decodeJpeg(bytes: Uint8Array, rgb: boolean): Promise<DecodedPixels> {
  return jpegCodec.use((codec) => {
    const decoder = new codec.JPEGDecoder();
    try {
      decoder.getEncodedBuffer(bytes.length).set(bytes);
      decoder.decode();
      const { width, height, componentCount } = decoder.getFrameInfo();
      // Already a copy out of WASM memory, in an ArrayBuffer of its own: RGB is used as it is.
      const decoded = decoder.getDecodedBuffer();
      const source = new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
      if (rgb && componentCount !== 1) {
        return { data: source.subarray(0, width * height * 3), width, height, channels: 3 };
      }
      if (rgb) {
        const data = new Uint8Array(width * height * 3);
        for (let pixel = 0, out = 0; out < data.length; pixel++, out += 3) {
          const grey = source[pixel] ?? 0;
          data[out] = grey;
          data[out + 1] = grey;
          data[out + 2] = grey;
        }
        return { data, width, height, channels: 3 };
      }
      const rgba = new Uint8Array(width * height * 4);
      // One 32-bit store per pixel (little-endian: R in the low byte, opaque alpha in the high one),
      // about 3x faster than four byte stores on a 12 MP photo.
      const pixels = new Uint32Array(rgba.buffer);
      if (componentCount === 1) {
        for (let pixel = 0; pixel < pixels.length; pixel++) {
          pixels[pixel] = ((source[pixel] ?? 0) * 0x010101 + 0xff000000) >>> 0;
        }
      } else {
        for (let pixel = 0, input = 0; pixel < pixels.length; pixel++, input += 3) {
          pixels[pixel] =
            ((source[input] ?? 0) |
              ((source[input + 1] ?? 0) << 8) |
              ((source[input + 2] ?? 0) << 16) |
              0xff000000) >>>
            0;
        }
      }
      return { data: rgba, width, height, channels: 4 };
    } finally {
      decoder.delete();
    }
  });
}

/** The RGB bytes of `pixelCount` opaque RGBA pixels. */
function dropAlpha(rgba: Uint8Array, pixelCount: number): Uint8Array {
  const rgb = new Uint8Array(pixelCount * 3);
  for (let input = 0, out = 0; out < rgb.length; input += 4, out += 3) {
    rgb[out] = rgba[input] ?? 0;
    rgb[out + 1] = rgba[input + 1] ?? 0;
    rgb[out + 2] = rgba[input + 2] ?? 0;
  }
  return rgb;
}

async function decodePixels(
  bytes: Uint8Array,
  format: ImageFormat,
  fallback: FallbackDecoder,
  rgb: boolean,
): Promise<Pixels | DecodedPixels> {
  switch (format) {
    case 'jpeg':
      try {
        return await decodeJpeg(bytes, rgb);
      } catch (error) {
        if (!isCodecFailure(error)) throw error;
        // libjpeg-turbo's RGB output cannot take CMYK/YCCK JPEGs; jimp's decoder converts those.
        return fallback(bytes, format);
      }
    case 'png': {
      await ensurePng();
      // A copy: Buffer#slice shares memory, and a Buffer's .buffer can be a larger shared pool.
      const image = await decodePngWasm(new Uint8Array(bytes).buffer);
      return { data: asUint8(image.data), width: image.width, height: image.height };
    }
    case 'webp':
      return webpDecoder.use((codec) => {
        const image = codec.decode(bytes);
        if (!image) throw new Error('libwebp could not decode the image');
        // Copy out of WASM memory: the next decode reuses it.
        return { data: new Uint8Array(image.data), width: image.width, height: image.height };
      });
    case 'gif':
    case 'bmp':
    case 'tiff':
      return fallback(bytes, format);
  }
}

/**
 * The EXIF orientation (1–8) of a JPEG, 1 when absent. Phones store portrait photos sideways and
 * set this tag; decoders ignore it, so without it a downscaled portrait photo would come out lying
 * on its side (and its EXIF, which would have fixed that, is not carried over).
 */
export function jpegOrientation(bytes: Uint8Array): number {
  let offset = 2;
  while (offset + 4 < bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1] ?? 0;
    if (marker === 0xda || marker === 0xd9) break;
    const length = readUint16BE(bytes, offset + 2);
    if (marker === 0xe1 && startsWith(bytes, ascii('Exif\0\0'), offset + 4)) {
      const tiff = offset + 10;
      const littleEndian = bytes[tiff] === 0x49;
      const u16 = (at: number) => (littleEndian ? readUint16LE(bytes, at) : readUint16BE(bytes, at));
      const u32 = (at: number) => (littleEndian ? readUint32LE(bytes, at) : readUint32BE(bytes, at));
      const ifd = tiff + u32(tiff + 4);
      const entries = u16(ifd);
      for (let index = 0; index < entries; index++) {
        const entry = ifd + 2 + index * 12;
        if (entry + 12 > offset + 2 + length || entry + 12 > bytes.length) break;
        if (u16(entry) === 0x0112) {
          const value = u16(entry + 8);
          return value >= 1 && value <= 8 ? value : 1;
        }
      }
      return 1;
    }
    offset += 2 + length;
  }
  return 1;
}

/** The pixels turned the way EXIF `orientation` says they are meant to be seen. */
function applyOrientation(pixels: DecodedPixels, orientation: number): DecodedPixels {
  if (orientation === 1) return pixels;
  const { width, height, channels } = pixels;
  // RGBA moves one 32-bit word per pixel (from an aligned copy); RGB three bytes.
  const words = channels === 4 ? new Uint32Array(pixels.data.slice(0, width * height * 4).buffer) : undefined;
  const wordOutput = words ? new Uint32Array(width * height) : undefined;
  const source = pixels.data;
  const swapped = orientation >= 5;
  const outWidth = swapped ? height : width;
  const outHeight = swapped ? width : height;
  const output = wordOutput ? new Uint8Array(wordOutput.buffer) : new Uint8Array(width * height * 3);
  // For each displayed pixel, the stored one it shows (EXIF 2.32, tag 0x0112).
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sourceX: number;
      let sourceY: number;
      switch (orientation) {
        case 2: // mirrored
          sourceX = width - 1 - x;
          sourceY = y;
          break;
        case 3: // upside down
          sourceX = width - 1 - x;
          sourceY = height - 1 - y;
          break;
        case 4: // mirrored upside down
          sourceX = x;
          sourceY = height - 1 - y;
          break;
        case 5: // mirrored, turned 90° anticlockwise
          sourceX = y;
          sourceY = x;
          break;
        case 6: // turned 90° anticlockwise: show it turned clockwise
          sourceX = y;
          sourceY = height - 1 - x;
          break;
        case 7: // mirrored, turned 90° clockwise
          sourceX = width - 1 - y;
          sourceY = height - 1 - x;
          break;
        default: // 8: turned 90° clockwise: show it turned anticlockwise
          sourceX = width - 1 - y;
          sourceY = x;
      }
      const from = sourceY * width + sourceX;
      const to = y * outWidth + x;
      if (words && wordOutput) {
        wordOutput[to] = words[from] ?? 0;
      } else {
        output[to * 3] = source[from * 3] ?? 0;
        output[to * 3 + 1] = source[from * 3 + 1] ?? 0;
        output[to * 3 + 2] = source[from * 3 + 2] ?? 0;
      }
    }
  }
  return { data: output, width: outWidth, height: outHeight, channels };
}

/**
 * A decoder to RGBA. Refuses unknown or corrupt data with InputInvalidError, and images over
 * `maxPixels` (default 50 MP) with InputTooLargeError before allocating their pixels. JPEG, PNG and
 * WebP go through WASM codecs; GIF, BMP, TIFF and the JPEGs libjpeg-turbo cannot read as RGB
 * (CMYK/YCCK) go to `fallback`, which by default refuses them (codecs.ts passes jimp's decoders).
 */
export function createImageDecoder(
  fallback: FallbackDecoder = refuseFormat,
): (bytes: Uint8Array, options?: DecodeOptions) => Promise<DecodedImage> {
  return async function decodeImage(bytes, options = {}) {
    const format = detectFormat(bytes);
    if (!format) {
      throw new InputInvalidError('The input is not a JPEG, PNG, GIF, WebP, BMP or TIFF image');
    }
    const maxPixels = options.maxPixels ?? MAX_INPUT_PIXELS;
    const declared = readImageSize(bytes, format);
    if (!declared || declared.width <= 0 || declared.height <= 0) {
      throw new InputInvalidError(`The ${format.toUpperCase()} image has no readable dimensions`);
    }
    if (declared.width * declared.height > maxPixels) {
      throw new InputTooLargeError(
        `The image is ${declared.width}x${declared.height} (${megapixels(declared)} MP); at most ${maxPixels / 1e6} MP is accepted`,
      );
    }
    let pixels: Pixels | DecodedPixels;
    try {
      pixels = await decodePixels(bytes, format, fallback, options.opaqueAsRgb === true);
    } catch (error) {
      // A missing codec or a ReferenceError is our fault, not the image's.
      if (error instanceof WasmAssetError || error instanceof ReferenceError) throw error;
      throw new InputInvalidError(`The ${format.toUpperCase()} image could not be decoded`, { cause: error });
    }
    // A container can lie about its size (GIF frames, TIFF pages): check what was actually decoded too.
    if (pixels.width * pixels.height > maxPixels) {
      throw new InputTooLargeError(
        `The image is ${megapixels(pixels)} MP; at most ${maxPixels / 1e6} MP is accepted`,
      );
    }
    const { width, height } = pixels;
    const channels = 'channels' in pixels ? pixels.channels : 4;
    if (width <= 0 || height <= 0 || pixels.data.length < width * height * channels) {
      throw new InputInvalidError(`The ${format.toUpperCase()} image decoded to no pixels`);
    }
    const hasAlpha = format === 'jpeg' || channels === 3 ? false : anyTransparentPixel(pixels.data);
    const decoded: DecodedPixels =
      options.opaqueAsRgb && channels === 4 && !hasAlpha
        ? { data: dropAlpha(pixels.data, width * height), width, height, channels: 3 }
        : { data: pixels.data, width, height, channels };
    const orientation = format === 'jpeg' ? jpegOrientation(bytes) : 1;
    return { ...applyOrientation(decoded, orientation), format, hasAlpha };
  };
}

function megapixels(size: ImageSize): string {
  return ((size.width * size.height) / 1e6).toFixed(1);
}

/**
 * Image codecs: format detection by magic bytes, header-only dimension reading, and decoding to /
 * encoding from 8-bit RGBA.
 *
 * Why these codecs: jimp's pure-JS JPEG codec is about 15x slower than native libjpeg, so JPEG goes
 * through libjpeg-turbo compiled to WASM (mozjpeg's WASM build, @jsquash/jpeg, was tried: its
 * trellis quantisation cannot be switched off and made a 12 MP encode take 2.3 s against 0.35 s).
 * PNG decodes through squoosh's Rust codec and WebP through libwebp (both WASM, from jSquash); PNG
 * encodes through png-encoder.ts. GIF, BMP and TIFF go through jimp's own decoders: they are rare
 * inputs and never outputs. Decoding alone lives in decode.ts (no encoder, no jimp) and the WASM
 * loading in wasm.ts; this module adds jimp and the encoders.
 */
import createWebpEncoderModule from '@jsquash/webp/codec/enc/webp_enc.js';
import createWebpEncoderSimdModule from '@jsquash/webp/codec/enc/webp_enc_simd.js';
import { defaultOptions as webpDefaultOptions } from '@jsquash/webp/meta.js';
import { createImageDecoder, DECODER_WASM_ASSETS } from './decode.ts';
import { encodePng } from './png-encoder.ts';
import {
  asUint8,
  type EmscriptenFactory,
  instantiateWith,
  isCodecFailure,
  jpegCodec,
  LazyCodec,
  loadWasmModule,
  resolveWasmAssets,
  type WasmAsset,
} from './wasm.ts';

export {
  type DecodedImage,
  type DecodeOptions,
  jpegOrientation,
  MAX_INPUT_PIXELS,
} from './decode.ts';
export {
  CONTENT_TYPES,
  detectFormat,
  FILE_EXTENSIONS,
  type ImageFormat,
  type ImageSize,
  readImageSize,
} from './formats.ts';
export { WasmAssetError } from './wasm.ts';

export type EncodableFormat = 'jpeg' | 'png' | 'webp';

/** 8-bit RGBA pixels, row-major, no padding between rows. */
export interface RgbaBitmap {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface EncodeOptions {
  /** 1–100, JPEG and WebP only. Defaults: JPEG 85, WebP 80. */
  quality?: number;
}

const WEBP_ENCODER_SIMD_ASSET: WasmAsset = {
  fileName: 'webp_enc_simd.wasm',
  specifier: '@jsquash/webp/codec/enc/webp_enc_simd.wasm',
};
const WEBP_ENCODER_ASSET: WasmAsset = {
  fileName: 'webp_enc.wasm',
  specifier: '@jsquash/webp/codec/enc/webp_enc.wasm',
};

/**
 * Absolute paths of every .wasm file this module loads, so the CDK stack can copy them next to the
 * esbuild bundle (where `loadWasmModule` looks first). Resolved from node_modules, so call it at
 * build time.
 */
export function wasmAssetFiles(): string[] {
  return resolveWasmAssets([...DECODER_WASM_ASSETS, WEBP_ENCODER_SIMD_ASSET, WEBP_ENCODER_ASSET]);
}

interface WebpEncoderModule {
  encode(
    data: Uint8Array | Uint8ClampedArray,
    width: number,
    height: number,
    options: typeof webpDefaultOptions,
  ): Uint8Array | null;
}

const webpEncoder = new LazyCodec<WebpEncoderModule>(async () => {
  // The SIMD build is about twice as fast; runtimes without WASM SIMD get the plain build.
  let compiled: WebAssembly.Module;
  let factory: EmscriptenFactory<WebpEncoderModule>;
  try {
    compiled = loadWasmModule(WEBP_ENCODER_SIMD_ASSET);
    factory = createWebpEncoderSimdModule;
  } catch {
    compiled = loadWasmModule(WEBP_ENCODER_ASSET);
    factory = createWebpEncoderModule;
  }
  return factory({ noInitialRun: true, instantiateWasm: instantiateWith(compiled) });
});

/**
 * jimp is evaluated on first use (~270 ms), since most callers never decode a GIF, BMP or TIFF.
 * esbuild still puts it in the same bundle (a dynamic import is not split without marking the
 * package external), so this saves evaluation time, not bundle size; the submit handler no longer
 * imports this module at all (test/infra/bundle-budgets.test.ts).
 */
let jimpModule: Promise<typeof import('jimp')> | undefined;
function loadJimp(): Promise<typeof import('jimp')> {
  jimpModule ??= import('jimp');
  return jimpModule;
}

async function decodeWithJimp(
  bytes: Uint8Array,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { Jimp } = await loadJimp();
  const image = await Jimp.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { data, width, height } = image.bitmap;
  return { data: asUint8(data), width, height };
}

/** Decodes any accepted format (JPEG, PNG, WebP, GIF, BMP, TIFF) to RGBA (decode.ts). */
export const decodeImage = createImageDecoder(decodeWithJimp);

// ---------------------------------------------------------------------------------------------------
// Encoding

const DEFAULT_JPEG_QUALITY = 85;
const DEFAULT_WEBP_QUALITY = 80;
/** TurboJPEG's TJSAMP_420: chroma at half resolution, the libjpeg/Pillow default for photos. */
const SUBSAMPLING_420 = 2;

function clampQuality(quality: number): number {
  return Math.min(100, Math.max(1, Math.round(quality)));
}

/** One translucent pixel blended onto white. */
function flattenPixel(
  rgba: Uint8Array | Uint8ClampedArray,
  input: number,
  output: Uint8Array,
  out: number,
): void {
  const alpha = rgba[input + 3] ?? 255;
  const white = 255 * (255 - alpha);
  output[out] = ((rgba[input] ?? 0) * alpha + white + 127) / 255;
  output[out + 1] = ((rgba[input + 1] ?? 0) * alpha + white + 127) / 255;
  output[out + 2] = ((rgba[input + 2] ?? 0) * alpha + white + 127) / 255;
}

/** Flattens translucent pixels onto white, the colour square padding uses: JPEG has no alpha. */
function flattenOntoWhite(
  rgba: Uint8Array | Uint8ClampedArray,
  output: Uint8Array,
  outputChannels: 3 | 4,
): void {
  if (outputChannels === 3 && rgba.byteOffset % 4 === 0) {
    // The usual case, an opaque photo: one 32-bit read per pixel (little-endian, as in decodeJpeg).
    const pixels = new Uint32Array(rgba.buffer, rgba.byteOffset, output.length / 3);
    for (let pixel = 0, out = 0; pixel < pixels.length; pixel++, out += 3) {
      const word = pixels[pixel] ?? 0;
      if (word >>> 24 !== 255) {
        flattenPixel(rgba, pixel * 4, output, out);
        continue;
      }
      output[out] = word & 0xff;
      output[out + 1] = (word >>> 8) & 0xff;
      output[out + 2] = (word >>> 16) & 0xff;
    }
    return;
  }
  for (let input = 0, out = 0; out < output.length; input += 4, out += outputChannels) {
    const alpha = rgba[input + 3] ?? 255;
    if (alpha === 255) {
      output[out] = rgba[input] ?? 0;
      output[out + 1] = rgba[input + 1] ?? 0;
      output[out + 2] = rgba[input + 2] ?? 0;
    } else {
      flattenPixel(rgba, input, output, out);
    }
    if (outputChannels === 4) output[out + 3] = 255;
  }
}

/**
 * The WASM wrapper gives libjpeg-turbo an output buffer as large as the raw RGB pixels and no more,
 * so a file bigger than that (any image of a few hundred pixels, whose headers alone are ~600 bytes)
 * makes it fail. Those go through jimp's JS encoder, which is fast enough at that size.
 */
const SMALLEST_WASM_JPEG_BYTES = 64 * 1024;

async function encodeJpegWithJimp(bitmap: RgbaBitmap, quality: number): Promise<Buffer> {
  const data = Buffer.alloc(bitmap.width * bitmap.height * 4);
  flattenOntoWhite(bitmap.data, data, 4);
  const { Jimp } = await loadJimp();
  const image = Jimp.fromBitmap({ data, width: bitmap.width, height: bitmap.height });
  return image.getBuffer('image/jpeg', { quality });
}

/**
 * The libjpeg-turbo encode: `fill` writes the RGB pixels into the encoder's buffer (in WASM memory;
 * nothing else runs meanwhile, so the view stays valid). Undefined when the codec refuses.
 */
async function encodeJpegWasm(
  width: number,
  height: number,
  quality: number,
  fill: (rgb: Uint8Array) => void,
): Promise<Buffer | undefined> {
  try {
    return await jpegCodec.use((codec) => {
      const encoder = new codec.JPEGEncoder();
      try {
        const rgb = encoder.getDecodedBuffer({
          width,
          height,
          bitsPerSample: 8,
          componentCount: 3,
          isSigned: false,
        });
        fill(rgb);
        encoder.setQuality(quality);
        encoder.setProgressive(0);
        encoder.setSubSampling(SUBSAMPLING_420);
        encoder.encode();
        const encoded = encoder.getEncodedBuffer();
        return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
      } finally {
        encoder.delete();
      }
    });
  } catch (error) {
    if (!isCodecFailure(error)) throw error;
    // The same buffer limit can bite on pure noise at quality 100: the caller falls back to jimp.
    return undefined;
  }
}

async function encodeJpeg(bitmap: RgbaBitmap, quality: number): Promise<Buffer> {
  const { width, height } = bitmap;
  if (width * height * 3 < SMALLEST_WASM_JPEG_BYTES) return encodeJpegWithJimp(bitmap, quality);
  const encoded = await encodeJpegWasm(width, height, quality, (rgb) =>
    flattenOntoWhite(bitmap.data, rgb, 3),
  );
  // Slower, but an answer.
  return encoded ?? encodeJpegWithJimp(bitmap, quality);
}

/** 8-bit RGB pixels (opaque), row-major, no padding between rows. */
export interface RgbBitmap {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Encodes RGB pixels as JPEG (quality 1–100), as encodeImage does RGBA ones but with no alpha to
 * flatten: the pixels are copied into the encoder as they are. What downscale.ts uses for opaque
 * images, which it keeps as RGB from the decode on.
 */
export async function encodeRgbJpeg(bitmap: RgbBitmap, quality: number): Promise<Buffer> {
  const { width, height, data } = bitmap;
  if (data.length < width * height * 3 || width <= 0 || height <= 0) {
    throw new RangeError(`The bitmap holds ${data.length} bytes, not ${width}x${height} RGB`);
  }
  return encodeRgbJpegFrom(width, height, quality, (rgb) => rgb.set(data.subarray(0, width * height * 3)));
}

/**
 * encodeRgbJpeg, with the pixels written by `fill` straight into the encoder's input buffer (it must
 * write all width×height×3 bytes, synchronously): a caller that computes them (a resize) saves a
 * buffer and a copy. `fill` can be called twice, the second time into a buffer of ours, when the
 * encode falls back to jimp.
 */
export async function encodeRgbJpegFrom(
  width: number,
  height: number,
  quality: number,
  fill: (rgb: Uint8Array) => void,
): Promise<Buffer> {
  if (width <= 0 || height <= 0) throw new RangeError(`No JPEG is ${width}x${height}`);
  const clamped = clampQuality(quality);
  const withJimp = () => {
    const rgb = new Uint8Array(width * height * 3);
    fill(rgb);
    const rgba = new Uint8Array(width * height * 4);
    for (let input = 0, out = 0; out < rgba.length; input += 3, out += 4) {
      rgba[out] = rgb[input] ?? 0;
      rgba[out + 1] = rgb[input + 1] ?? 0;
      rgba[out + 2] = rgb[input + 2] ?? 0;
      rgba[out + 3] = 255;
    }
    return encodeJpegWithJimp({ data: rgba, width, height }, clamped);
  };
  if (width * height * 3 < SMALLEST_WASM_JPEG_BYTES) return withJimp();
  return (await encodeJpegWasm(width, height, clamped, fill)) ?? withJimp();
}

/** Encodes RGBA pixels. `quality` (1–100) applies to JPEG and WebP; PNG is lossless. */
export async function encodeImage(
  bitmap: RgbaBitmap,
  format: EncodableFormat,
  options: EncodeOptions = {},
): Promise<Buffer> {
  if (bitmap.data.length < bitmap.width * bitmap.height * 4 || bitmap.width <= 0 || bitmap.height <= 0) {
    throw new RangeError(
      `The bitmap holds ${bitmap.data.length} bytes, not ${bitmap.width}x${bitmap.height} RGBA`,
    );
  }
  switch (format) {
    case 'jpeg':
      return encodeJpeg(bitmap, clampQuality(options.quality ?? DEFAULT_JPEG_QUALITY));
    case 'png':
      return encodePng(bitmap);
    case 'webp': {
      const quality = clampQuality(options.quality ?? DEFAULT_WEBP_QUALITY);
      return webpEncoder.use((codec) => {
        const encoded = codec.encode(bitmap.data, bitmap.width, bitmap.height, {
          ...webpDefaultOptions,
          quality,
        });
        if (!encoded) throw new Error('libwebp could not encode the image');
        return Buffer.from(encoded);
      });
    }
  }
}

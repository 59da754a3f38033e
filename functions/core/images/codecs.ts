/**
 * Image codecs: format detection by magic bytes, header-only dimension reading, and decoding to /
 * encoding from 8-bit RGBA.
 *
 * Why these codecs: jimp's pure-JS JPEG codec is about 15x slower than native libjpeg, so JPEG goes
 * through libjpeg-turbo compiled to WASM (mozjpeg's WASM build, @jsquash/jpeg, was tried: its
 * trellis quantisation cannot be switched off and made a 12 MP encode take 2.3 s against 0.35 s).
 * PNG decodes through squoosh's Rust codec and WebP through libwebp (both WASM, from jSquash); PNG
 * encodes through png-encoder.ts. GIF, BMP and TIFF go through jimp's own decoders: they are rare
 * inputs and never outputs. Every WASM module is instantiated from bytes we read ourselves, because the
 * packages' own loaders try to `fetch` their .wasm, which fails in Node and in a Lambda bundle.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import createLibJpegTurboModule, {
  type LibJpegTurboModule,
} from '@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs';
import { decode as decodePngWasm, init as initPngWasm } from '@jsquash/png/decode.js';
import createWebpDecoderModule from '@jsquash/webp/codec/dec/webp_dec.js';
import createWebpEncoderModule from '@jsquash/webp/codec/enc/webp_enc.js';
import createWebpEncoderSimdModule from '@jsquash/webp/codec/enc/webp_enc_simd.js';
import { defaultOptions as webpDefaultOptions } from '@jsquash/webp/meta.js';
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
import { encodePng } from './png-encoder.ts';

export {
  CONTENT_TYPES,
  detectFormat,
  FILE_EXTENSIONS,
  type ImageFormat,
  type ImageSize,
  readImageSize,
} from './formats.ts';

export type EncodableFormat = 'jpeg' | 'png' | 'webp';

/** 8-bit RGBA pixels, row-major, no padding between rows. */
export interface RgbaBitmap {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  format: ImageFormat;
  /** True when at least one pixel is not fully opaque. */
  hasAlpha: boolean;
}

export interface EncodeOptions {
  /** 1–100, JPEG and WebP only. Defaults: JPEG 85, WebP 80. */
  quality?: number;
}

export interface DecodeOptions {
  /** Images whose header claims more pixels than this are refused before any pixel is allocated. */
  maxPixels?: number;
}

/** The API's input cap (docs/api.md, Downscale). */
export const MAX_INPUT_PIXELS = 50_000_000;

// ---------------------------------------------------------------------------------------------------
// WASM loading

interface WasmAsset {
  /** The file's name, which is also its name next to a Lambda bundle. */
  fileName: string;
  /** The package specifier Node resolves when the file is not next to the running module. */
  specifier: string;
}

const WASM_ASSETS = {
  jpeg: { fileName: 'libjpegturbowasm.wasm', specifier: '@cornerstonejs/codec-libjpeg-turbo-8bit/wasm' },
  png: { fileName: 'squoosh_png_bg.wasm', specifier: '@jsquash/png/codec/pkg/squoosh_png_bg.wasm' },
  webpDecoder: { fileName: 'webp_dec.wasm', specifier: '@jsquash/webp/codec/dec/webp_dec.wasm' },
  webpEncoderSimd: {
    fileName: 'webp_enc_simd.wasm',
    specifier: '@jsquash/webp/codec/enc/webp_enc_simd.wasm',
  },
  webpEncoder: { fileName: 'webp_enc.wasm', specifier: '@jsquash/webp/codec/enc/webp_enc.wasm' },
} satisfies Record<string, WasmAsset>;

/**
 * A codec's .wasm could not be found or compiled: a deployment fault, never the input's, so it must
 * not be mistaken for a corrupt image nor hidden by a fallback codec.
 */
export class WasmAssetError extends Error {
  override readonly name = 'WasmAssetError';
}

const moduleRequire = createRequire(import.meta.url);

/**
 * Absolute paths of every .wasm file this module loads, so the CDK stack can copy them next to the
 * esbuild bundle (where `loadWasmModule` looks first). Resolved from node_modules, so call it at
 * build time.
 */
export function wasmAssetFiles(): string[] {
  return Object.values(WASM_ASSETS).map((asset) => moduleRequire.resolve(asset.specifier));
}

const compiledModules = new Map<WasmAsset, WebAssembly.Module>();

function loadWasmModule(asset: WasmAsset): WebAssembly.Module {
  const cached = compiledModules.get(asset);
  if (cached) return cached;
  // In a Lambda bundle the package is gone and the file was copied next to the bundle.
  const besideModule = path.join(path.dirname(fileURLToPath(import.meta.url)), asset.fileName);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = readFileSync(besideModule);
  } catch {
    try {
      bytes = readFileSync(moduleRequire.resolve(asset.specifier));
    } catch (error) {
      throw new WasmAssetError(`${asset.fileName} is neither next to ${besideModule} nor in node_modules`, {
        cause: error,
      });
    }
  }
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(bytes);
  } catch (error) {
    throw new WasmAssetError(`${asset.fileName} does not compile on this runtime`, { cause: error });
  }
  compiledModules.set(asset, compiled);
  return compiled;
}

/** The Emscripten hook that replaces the loader's own fetch of the .wasm file. */
function instantiateWith(compiled: WebAssembly.Module) {
  return (
    imports: WebAssembly.Imports,
    receiveInstance: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void,
  ): WebAssembly.Exports => {
    const instance = new WebAssembly.Instance(compiled, imports);
    receiveInstance(instance, compiled);
    return instance.exports;
  };
}

/**
 * A lazily created codec instance. A failed call drops it, because an Emscripten module can be left
 * unusable by an abort inside WASM; the next call then starts from a fresh instance.
 */
class LazyCodec<T> {
  private instance: Promise<T> | undefined;
  constructor(private readonly create: () => Promise<T>) {}

  async use<R>(work: (codec: T) => R): Promise<R> {
    this.instance ??= this.create();
    const pending = this.instance;
    try {
      return work(await pending);
    } catch (error) {
      if (this.instance === pending) this.instance = undefined;
      throw error;
    }
  }
}

interface EmscriptenOptions {
  noInitialRun?: boolean;
  instantiateWasm?: ReturnType<typeof instantiateWith>;
}

interface WebpDecoderModule {
  decode(data: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } | null;
}

interface WebpEncoderModule {
  encode(
    data: Uint8Array | Uint8ClampedArray,
    width: number,
    height: number,
    options: typeof webpDefaultOptions,
  ): Uint8Array | null;
}

type EmscriptenFactory<T> = (options: EmscriptenOptions) => Promise<T>;

const jpegCodec = new LazyCodec<LibJpegTurboModule>(() => {
  const compiled = loadWasmModule(WASM_ASSETS.jpeg);
  // This package's Emscripten glue is CommonJS and, in Node, evaluates `__dirname` (only to locate
  // the .wasm we hand it anyway). An ESM bundle has no `__dirname`, so the lookup would throw a
  // ReferenceError; give it one unless the bundle's banner already did.
  if (typeof globalThis.__dirname === 'undefined') {
    Object.defineProperty(globalThis, '__dirname', {
      value: path.dirname(fileURLToPath(import.meta.url)),
      configurable: true,
      writable: true,
    });
  }
  return createLibJpegTurboModule({ instantiateWasm: instantiateWith(compiled) });
});

/**
 * Whether an error is the codec refusing the data: libjpeg-turbo's C++ exceptions reach JS as
 * numbers, and a trap inside WASM as a RuntimeError. Anything else is a fault of ours or of the
 * deployment, which no fallback codec should hide.
 */
function isCodecFailure(error: unknown): boolean {
  return typeof error === 'number' || error instanceof WebAssembly.RuntimeError;
}

let pngReady: Promise<unknown> | undefined;
function ensurePng(): Promise<unknown> {
  pngReady ??= initPngWasm(loadWasmModule(WASM_ASSETS.png));
  return pngReady;
}

const webpDecoder = new LazyCodec<WebpDecoderModule>(() => {
  const factory: EmscriptenFactory<WebpDecoderModule> = createWebpDecoderModule;
  return factory({
    noInitialRun: true,
    instantiateWasm: instantiateWith(loadWasmModule(WASM_ASSETS.webpDecoder)),
  });
});

const webpEncoder = new LazyCodec<WebpEncoderModule>(async () => {
  // The SIMD build is about twice as fast; runtimes without WASM SIMD get the plain build.
  let compiled: WebAssembly.Module;
  let factory: EmscriptenFactory<WebpEncoderModule>;
  try {
    compiled = loadWasmModule(WASM_ASSETS.webpEncoderSimd);
    factory = createWebpEncoderSimdModule;
  } catch {
    compiled = loadWasmModule(WASM_ASSETS.webpEncoder);
    factory = createWebpEncoderModule;
  }
  return factory({ noInitialRun: true, instantiateWasm: instantiateWith(compiled) });
});

// ---------------------------------------------------------------------------------------------------
// Decoding

function anyTransparentPixel(rgba: Uint8Array): boolean {
  for (let index = 3; index < rgba.length; index += 4) {
    if (rgba[index] !== 255) return true;
  }
  return false;
}

function asUint8(data: Uint8Array | Uint8ClampedArray): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function decodeJpeg(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  return jpegCodec.use((codec) => {
    const decoder = new codec.JPEGDecoder();
    try {
      decoder.getEncodedBuffer(bytes.length).set(bytes);
      decoder.decode();
      const { width, height, componentCount } = decoder.getFrameInfo();
      // The view points into WASM memory, so expand it to RGBA (a copy) before anything else runs.
      const source = decoder.getDecodedBuffer();
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
      return { data: rgba, width, height };
    } finally {
      decoder.delete();
    }
  });
}

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

async function decodePixels(
  bytes: Uint8Array,
  format: ImageFormat,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  switch (format) {
    case 'jpeg':
      try {
        return await decodeJpeg(bytes);
      } catch (error) {
        if (!isCodecFailure(error)) throw error;
        // libjpeg-turbo's RGB output cannot take CMYK/YCCK JPEGs; jimp's decoder converts those.
        return decodeWithJimp(bytes);
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
      return decodeWithJimp(bytes);
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
function applyOrientation(
  pixels: { data: Uint8Array; width: number; height: number },
  orientation: number,
): { data: Uint8Array; width: number; height: number } {
  if (orientation === 1) return pixels;
  const { width, height } = pixels;
  const source = new Uint32Array(pixels.data.slice().buffer);
  const swapped = orientation >= 5;
  const outWidth = swapped ? height : width;
  const outHeight = swapped ? width : height;
  const output = new Uint32Array(width * height);
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
      output[y * outWidth + x] = source[sourceY * width + sourceX] ?? 0;
    }
  }
  return { data: new Uint8Array(output.buffer), width: outWidth, height: outHeight };
}

/**
 * Decodes any accepted format to RGBA. Refuses unknown or corrupt data with InputInvalidError, and
 * images over `maxPixels` (default 50 MP) with InputTooLargeError before allocating their pixels.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
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
  let pixels: { data: Uint8Array; width: number; height: number };
  try {
    pixels = await decodePixels(bytes, format);
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
  if (pixels.width <= 0 || pixels.height <= 0 || pixels.data.length < pixels.width * pixels.height * 4) {
    throw new InputInvalidError(`The ${format.toUpperCase()} image decoded to no pixels`);
  }
  const hasAlpha = format === 'jpeg' ? false : anyTransparentPixel(pixels.data);
  const orientation = format === 'jpeg' ? jpegOrientation(bytes) : 1;
  return { ...applyOrientation(pixels, orientation), format, hasAlpha };
}

function megapixels(size: ImageSize): string {
  return ((size.width * size.height) / 1e6).toFixed(1);
}

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

async function encodeJpeg(bitmap: RgbaBitmap, quality: number): Promise<Buffer> {
  const { width, height } = bitmap;
  if (width * height * 3 < SMALLEST_WASM_JPEG_BYTES) return encodeJpegWithJimp(bitmap, quality);
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
        flattenOntoWhite(bitmap.data, rgb, 3);
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
    // The same buffer limit can bite on pure noise at quality 100; slower, but an answer.
    return encodeJpegWithJimp(bitmap, quality);
  }
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

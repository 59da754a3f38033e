/**
 * Image formats by their magic bytes, their content types and extensions, and their dimensions
 * from the header alone. No codec is loaded here, so anything that only needs to know what a
 * file is (provider adapters, content types of results) stays light.
 */

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'tiff';
export const CONTENT_TYPES: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  tiff: 'image/tiff',
};

export const FILE_EXTENSIONS: Record<ImageFormat, string> = {
  jpeg: 'jpg',
  png: 'png',
  gif: 'gif',
  webp: 'webp',
  bmp: 'bmp',
  tiff: 'tiff',
};

// ---------------------------------------------------------------------------------------------------
// Format detection and header dimensions

export function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((value, index) => bytes[offset + index] === value);
}

export const ascii = (text: string): number[] => Array.from(text, (character) => character.charCodeAt(0));

/** The image format from the file's magic bytes; undefined for anything we do not accept. */
export function detectFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, ascii('II*\0')) || startsWith(bytes, ascii('MM\0*'))) return 'tiff';
  // "BM" alone would match plenty of text files, so also require a known DIB header size.
  if (startsWith(bytes, ascii('BM')) && bytes.length >= 26) {
    const dibHeaderSize = readUint32LE(bytes, 14);
    if ([12, 40, 52, 56, 64, 108, 124].includes(dibHeaderSize)) return 'bmp';
  }
  return undefined;
}

export function readUint16BE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}
export function readUint16LE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8);
}
function readUint24LE(bytes: Uint8Array, offset: number): number {
  return readUint16LE(bytes, offset) | ((bytes[offset + 2] ?? 0) << 16);
}
export function readUint32BE(bytes: Uint8Array, offset: number): number {
  return readUint16BE(bytes, offset) * 0x10000 + readUint16BE(bytes, offset + 2);
}
export function readUint32LE(bytes: Uint8Array, offset: number): number {
  return readUint16LE(bytes, offset) + readUint16LE(bytes, offset + 2) * 0x10000;
}

export interface ImageSize {
  width: number;
  height: number;
}

function jpegSize(bytes: Uint8Array): ImageSize | undefined {
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1] ?? 0;
    // Fill bytes and standalone markers carry no length.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    // SOF0..SOF15 hold the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: readUint16BE(bytes, offset + 5), width: readUint16BE(bytes, offset + 7) };
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    offset += 2 + readUint16BE(bytes, offset + 2);
  }
  return undefined;
}

function webpSize(bytes: Uint8Array): ImageSize | undefined {
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === 'VP8X' && bytes.length >= 30) {
    return { width: readUint24LE(bytes, 24) + 1, height: readUint24LE(bytes, 27) + 1 };
  }
  if (chunk === 'VP8 ' && bytes.length >= 30 && startsWith(bytes, [0x9d, 0x01, 0x2a], 23)) {
    return { width: readUint16LE(bytes, 26) & 0x3fff, height: readUint16LE(bytes, 28) & 0x3fff };
  }
  if (chunk === 'VP8L' && bytes.length >= 25 && bytes[20] === 0x2f) {
    const bits = readUint32LE(bytes, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  return undefined;
}

function tiffSize(bytes: Uint8Array): ImageSize | undefined {
  const littleEndian = bytes[0] === 0x49;
  const u16 = (offset: number) => (littleEndian ? readUint16LE(bytes, offset) : readUint16BE(bytes, offset));
  const u32 = (offset: number) => (littleEndian ? readUint32LE(bytes, offset) : readUint32BE(bytes, offset));
  const ifdOffset = u32(4);
  if (ifdOffset + 2 > bytes.length) return undefined;
  const entryCount = u16(ifdOffset);
  let width: number | undefined;
  let height: number | undefined;
  for (let index = 0; index < entryCount; index++) {
    const entry = ifdOffset + 2 + index * 12;
    if (entry + 12 > bytes.length) break;
    const tag = u16(entry);
    const type = u16(entry + 2);
    // SHORT values sit in the first two bytes of the value field, LONG values fill it.
    const value = type === 3 ? u16(entry + 8) : u32(entry + 8);
    if (tag === 256) width = value;
    if (tag === 257) height = value;
  }
  return width !== undefined && height !== undefined ? { width, height } : undefined;
}

/** Skips a run of GIF data sub-blocks (length byte, then that many bytes, until a 0 length). */
function skipGifSubBlocks(bytes: Uint8Array, start: number): number {
  let offset = start;
  while (offset < bytes.length) {
    const size = bytes[offset] ?? 0;
    offset += 1 + size;
    if (size === 0) break;
  }
  return offset;
}

/**
 * The logical screen, widened to every frame's extent: a frame may claim more than the screen,
 * and a decoder sizes its buffers from whichever is larger. Only block headers are read.
 */
function gifSize(bytes: Uint8Array): ImageSize | undefined {
  if (bytes.length < 13) return undefined;
  let width = readUint16LE(bytes, 6);
  let height = readUint16LE(bytes, 8);
  const colourTableSize = (flags: number): number => (flags & 0x80 ? 3 * (1 << ((flags & 0x07) + 1)) : 0);
  let offset = 13 + colourTableSize(bytes[10] ?? 0);
  while (offset < bytes.length) {
    const block = bytes[offset];
    if (block === 0x21) {
      // Extension: introducer, label, then sub-blocks.
      offset = skipGifSubBlocks(bytes, offset + 2);
    } else if (block === 0x2c && offset + 10 <= bytes.length) {
      // Image descriptor: left, top, width, height, flags; then a local colour table, the LZW
      // code size and the image data sub-blocks.
      width = Math.max(width, readUint16LE(bytes, offset + 1) + readUint16LE(bytes, offset + 5));
      height = Math.max(height, readUint16LE(bytes, offset + 3) + readUint16LE(bytes, offset + 7));
      offset = skipGifSubBlocks(bytes, offset + 10 + colourTableSize(bytes[offset + 9] ?? 0) + 1);
    } else {
      // The trailer (0x3b), a truncated descriptor or bytes that are no GIF block: stop here.
      break;
    }
  }
  return { width, height };
}

/** Width and height from the header alone, without decoding pixels; undefined if unreadable. */
export function readImageSize(bytes: Uint8Array, format: ImageFormat): ImageSize | undefined {
  switch (format) {
    case 'jpeg':
      return jpegSize(bytes);
    case 'png':
      // The size is only trustworthy in IHDR, which the PNG specification puts first.
      return bytes.length >= 24 && startsWith(bytes, ascii('IHDR'), 12)
        ? { width: readUint32BE(bytes, 16), height: readUint32BE(bytes, 20) }
        : undefined;
    case 'gif':
      return gifSize(bytes);
    case 'webp':
      return webpSize(bytes);
    case 'bmp': {
      if (readUint32LE(bytes, 14) === 12)
        return { width: readUint16LE(bytes, 18), height: readUint16LE(bytes, 20) };
      // Height is signed: negative means the rows are stored top-down.
      const height = readUint32LE(bytes, 22) | 0;
      return { width: readUint32LE(bytes, 18) | 0, height: Math.abs(height) };
    }
    case 'tiff':
      return tiffSize(bytes);
  }
}

/** The formats every image provider here accepts as input (PNG, JPEG, WebP). */
export type WebImageFormat = 'png' | 'jpeg' | 'webp';

export interface WebImageKind {
  format: WebImageFormat;
  contentType: string;
  extension: string;
}

/** PNG, JPEG or WebP by the file's bytes, with its true content type and extension; else undefined. */
export function webImageKind(bytes: Uint8Array): WebImageKind | undefined {
  const format = detectFormat(bytes);
  if (format !== 'png' && format !== 'jpeg' && format !== 'webp') return undefined;
  return { format, contentType: CONTENT_TYPES[format], extension: FILE_EXTENSIONS[format] };
}

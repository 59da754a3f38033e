/**
 * A small GIF89a encoder for the OpenAI simulator's `output_format: "gif"` answers.
 *
 * jimp can write GIF, but its quantiser drops the alpha channel, so a transparent-background GIF
 * would come out opaque. This encoder maps every pixel onto a fixed 6×6×6 colour cube (216 colours)
 * and reserves one more palette entry for fully transparent pixels, which keeps transparency and
 * makes the output deterministic. Format: the GIF89a specification (w3.org/Graphics/GIF/spec-gif89a.txt).
 * One frame only: animated GIFs are not simulated.
 */

export interface GifBitmap {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel, row by row. */
  data: Uint8Array;
}

const LEVELS = 6;
const TRANSPARENT_INDEX = LEVELS * LEVELS * LEVELS;
/** 8-bit codes: a 256-entry colour table, of which 217 entries are used. */
const MIN_CODE_SIZE = 8;
const MAX_CODE = 4096;

function colourTable(): Buffer {
  const table = Buffer.alloc(256 * 3);
  for (let index = 0; index < TRANSPARENT_INDEX; index++) {
    const r = Math.floor(index / (LEVELS * LEVELS));
    const g = Math.floor(index / LEVELS) % LEVELS;
    const b = index % LEVELS;
    table[index * 3] = r * 51;
    table[index * 3 + 1] = g * 51;
    table[index * 3 + 2] = b * 51;
  }
  return table;
}

function toIndices(bitmap: GifBitmap, transparent: boolean): Uint8Array {
  const count = bitmap.width * bitmap.height;
  const indices = new Uint8Array(count);
  const level = (value: number | undefined): number => Math.round((value ?? 0) / 51);
  for (let pixel = 0; pixel < count; pixel++) {
    const offset = pixel * 4;
    if (transparent && (bitmap.data[offset + 3] ?? 255) < 128) {
      indices[pixel] = TRANSPARENT_INDEX;
      continue;
    }
    indices[pixel] =
      level(bitmap.data[offset]) * LEVELS * LEVELS +
      level(bitmap.data[offset + 1]) * LEVELS +
      level(bitmap.data[offset + 2]);
  }
  return indices;
}

/** Variable-length LZW as GIF uses it: codes packed least-significant bit first. */
function lzw(indices: Uint8Array): Buffer {
  const bytes: number[] = [];
  const clearCode = 1 << MIN_CODE_SIZE;
  const endCode = clearCode + 1;
  let codeSize = MIN_CODE_SIZE + 1;
  let nextCode = endCode + 1;
  let table = new Map<number, number>();
  let bits = 0;
  let bitCount = 0;
  const emit = (code: number): void => {
    bits |= code << bitCount;
    bitCount += codeSize;
    while (bitCount >= 8) {
      bytes.push(bits & 0xff);
      bits >>>= 8;
      bitCount -= 8;
    }
  };

  emit(clearCode);
  let prefix = indices[0] ?? 0;
  for (let position = 1; position < indices.length; position++) {
    const symbol = indices[position] ?? 0;
    const key = (prefix << 8) | symbol;
    const known = table.get(key);
    if (known !== undefined) {
      prefix = known;
      continue;
    }
    emit(prefix);
    if (nextCode === MAX_CODE) {
      // The table is full: start over, as every GIF decoder expects after a clear code.
      emit(clearCode);
      table = new Map();
      codeSize = MIN_CODE_SIZE + 1;
      nextCode = endCode + 1;
    } else {
      if (nextCode >= 1 << codeSize) codeSize++;
      table.set(key, nextCode++);
    }
    prefix = symbol;
  }
  emit(prefix);
  emit(endCode);
  if (bitCount > 0) bytes.push(bits & 0xff);
  return Buffer.from(bytes);
}

/** Splits image data into the length-prefixed sub-blocks of at most 255 bytes GIF requires. */
function subBlocks(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += 255) {
    const chunk = data.subarray(offset, offset + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

/** Encodes one RGBA frame; with `transparent`, pixels whose alpha is below 128 become transparent. */
export function encodeGif(bitmap: GifBitmap, transparent: boolean): Buffer {
  if (bitmap.width <= 0 || bitmap.height <= 0 || bitmap.width > 0xffff || bitmap.height > 0xffff) {
    throw new RangeError(`A GIF cannot be ${bitmap.width}x${bitmap.height}`);
  }
  const screen = Buffer.concat([
    Buffer.from('GIF89a', 'latin1'),
    u16(bitmap.width),
    u16(bitmap.height),
    // Global colour table present, 8 bits of colour resolution, 256 entries.
    Buffer.from([0xf7, 0, 0]),
    colourTable(),
  ]);
  const control = transparent
    ? Buffer.from([0x21, 0xf9, 0x04, 0x01, 0, 0, TRANSPARENT_INDEX, 0])
    : Buffer.alloc(0);
  const descriptor = Buffer.concat([
    Buffer.from([0x2c]),
    u16(0),
    u16(0),
    u16(bitmap.width),
    u16(bitmap.height),
    Buffer.from([0]),
  ]);
  const image = Buffer.concat([Buffer.from([MIN_CODE_SIZE]), subBlocks(lzw(toIndices(bitmap, transparent)))]);
  return Buffer.concat([screen, control, descriptor, image, Buffer.from([0x3b])]);
}

/**
 * PNG encoding through jimp's PNG plugin (@jimp/js-png, which drives pngjs): adaptive per-row
 * filtering (libpng's minimum-sum-of-absolute-differences heuristic) and Node's native zlib.
 *
 * The one thing added here is the colour type: RGB when no pixel is translucent, like Pillow. The
 * WASM encoder at hand (squoosh's, in @jsquash/png) always writes RGBA, which made an opaque photo
 * about a third larger, and the downscale would then shrink PNGs further than needed to fit the
 * limit. The plugin is given zlib's default level and strategy: measured on 2026-12-02 it then
 * writes the same bytes, in the same time, as the encoder this file used to hold (README,
 * Benchmarks).
 */
import png, { PNGColorType, PNGFilterType } from '@jimp/js-png';
import type { RgbaBitmap } from './codecs.ts';

const codec = png();
/** zlib's Z_DEFAULT_STRATEGY; the plugin's own default is Z_RLE (faster, about 1% larger here). */
const DEFAULT_STRATEGY = 0;

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
  const { buffer, byteOffset } = bitmap.data;
  // A view, not a copy: the plugin only reads the pixels.
  const data = Buffer.from(buffer, byteOffset, width * height * 4);
  let opaque = !options.keepAlphaChannel;
  for (let index = 3; opaque && index < data.length; index += 4) {
    if (data[index] !== 255) opaque = false;
  }
  return codec.encode(
    { data, width, height },
    {
      colorType: opaque ? PNGColorType.COLOR : PNGColorType.COLOR_ALPHA,
      filterType: PNGFilterType.AUTO,
      deflateLevel: options.compressionLevel ?? 6,
      deflateStrategy: DEFAULT_STRATEGY,
    },
  );
}

import { type EncodableFormat, encodeImage } from '../../../functions/core/images/codecs.ts';
import { type DrawOptions, drawPicture } from './draw.ts';
import { encodeGif } from './openai/gif.ts';

/**
 * The simulators' pixel work, as jobs a draw thread runs (draw-pool.ts): painting a picture and
 * encoding one. Everything in and out is plain data (bytes, numbers), so it crosses threads by
 * structured cloning; a Buffer arrives as a Uint8Array.
 */

export interface Bitmap {
  data: Uint8Array;
  width: number;
  height: number;
}

/** How a drawn picture leaves the thread. */
export type DrawOutput =
  /** jimp's own PNG/JPEG encoder (the OpenAI simulator's choice). */
  | { as: 'jimp'; format: 'png' | 'jpeg'; quality: number }
  /** The project's codecs (WebP, and every format the image-provider simulators return). */
  | { as: 'codec'; format: EncodableFormat; quality?: number }
  | { as: 'gif'; transparent: boolean }
  /** The RGBA pixels, for a caller that still composites onto them. */
  | { as: 'bitmap' };

export type DrawJob =
  | { kind: 'draw'; options: DrawOptions; output: DrawOutput }
  | { kind: 'encode'; bitmap: Bitmap; format: EncodableFormat; quality?: number };

export async function handler(job: DrawJob): Promise<Uint8Array | Bitmap> {
  if (job.kind === 'encode') {
    return encodeImage(job.bitmap, job.format, job.quality === undefined ? {} : { quality: job.quality });
  }
  // A Buffer arrives as a Uint8Array, which jimp's reader does not take.
  const { input } = job.options;
  const options = input
    ? { ...job.options, input: Buffer.from(input.buffer, input.byteOffset, input.byteLength) }
    : job.options;
  const picture = await drawPicture(options);
  const { output } = job;
  switch (output.as) {
    case 'jimp':
      if (output.format === 'jpeg') return picture.getBuffer('image/jpeg', { quality: output.quality });
      return picture.getBuffer('image/png');
    case 'codec':
      return encodeImage(
        picture.bitmap,
        output.format,
        output.quality === undefined ? {} : { quality: output.quality },
      );
    case 'gif':
      return encodeGif(picture.bitmap, output.transparent);
    case 'bitmap': {
      const { data, width, height } = picture.bitmap;
      return { data, width, height };
    }
  }
}

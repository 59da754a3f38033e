import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../functions/core/images/codecs.ts';
import { drawImage, drawPicture } from '../../infra/local/sandbox/draw.ts';
import { closeDrawPool, drawBitmap, drawEncoded, encodeBitmap } from '../../infra/local/sandbox/draw-pool.ts';
import { encodeGif } from '../../infra/local/sandbox/openai/gif.ts';

/**
 * The simulators paint and encode their results on draw threads, off the host's event loop. The
 * threads run the same functions, so every output must be byte for byte what drawing in place
 * gives: simulators' answers do not change by moving the work.
 */

afterAll(async () => {
  await closeDrawPool();
});

const options = { seed: 'pool|a red chair', width: 96, height: 64, transparent: false };

describe('the draw pool', () => {
  it('gives the same PNG and JPEG bytes as jimp drawing in place', async () => {
    expect(await drawEncoded(options, { as: 'jimp', format: 'png', quality: 100 })).toEqual(
      await drawImage({ ...options, format: 'png' }),
    );
    expect(await drawEncoded(options, { as: 'jimp', format: 'jpeg', quality: 70 })).toEqual(
      await drawImage({ ...options, format: 'jpeg', quality: 70 }),
    );
  });

  it('gives the same WebP and GIF bytes as encoding in place, transparency included', async () => {
    const transparent = { ...options, transparent: true };
    const picture = await drawPicture(transparent);
    expect(await drawEncoded(transparent, { as: 'codec', format: 'webp', quality: 50 })).toEqual(
      await encodeImage(picture.bitmap, 'webp', { quality: 50 }),
    );
    expect(await drawEncoded(transparent, { as: 'gif', transparent: true })).toEqual(
      encodeGif(picture.bitmap, true),
    );
  });

  it('blends an input image sent across the thread, as drawing in place does', async () => {
    const input = await drawImage({ seed: 'input photo', width: 40, height: 30, format: 'png' });
    const withInput = { ...options, input };
    const pooled = await drawEncoded(withInput, { as: 'jimp', format: 'png', quality: 100 });
    expect(pooled).toEqual(await drawImage({ ...withInput, format: 'png' }));
    expect(pooled).not.toEqual(await drawImage({ ...options, format: 'png' }));
  });

  it('returns the drawn pixels, and encodes pixels with the project codecs', async () => {
    const bitmap = await drawBitmap(options);
    const picture = await drawPicture(options);
    expect({ width: bitmap.width, height: bitmap.height }).toEqual({ width: 96, height: 64 });
    expect(Buffer.from(bitmap.data)).toEqual(picture.bitmap.data);
    const png = await encodeBitmap(bitmap, 'png');
    expect(png).toEqual(await encodeImage(picture.bitmap, 'png'));
    const decoded = await decodeImage(png);
    expect(decoded).toMatchObject({ format: 'png', width: 96, height: 64 });
  });

  it('runs jobs side by side and reports a failing job as the error it threw', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        drawEncoded({ ...options, seed: `job ${index}` }, { as: 'jimp', format: 'png', quality: 100 }),
      ),
    );
    expect(new Set(jobs.map((bytes) => bytes.toString('base64'))).size).toBe(6);
    await expect(encodeBitmap({ data: new Uint8Array(4), width: 10, height: 10 }, 'png')).rejects.toThrow(
      /holds 4 bytes, not 10x10 RGBA/,
    );
  });
});

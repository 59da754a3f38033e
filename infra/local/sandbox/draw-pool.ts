import { availableParallelism } from 'node:os';
import { ThreadedHandler } from '../image-worker.ts';
import type { DrawOptions } from './draw.ts';
import type { Bitmap, DrawJob, DrawOutput } from './draw-jobs.ts';

/**
 * Runs the simulators' painting and encoding on worker threads (the way the local host runs
 * ProcessImage, image-worker.ts), so a simulator drawing a 1024x1024 result does not hold up the
 * API, storage and the other simulators on the host's event loop. The outputs are the same bytes
 * as drawing in place: the same functions run, only on another thread.
 *
 * Up to one thread per core (at most 4), each started on first use and kept; a job goes to the
 * thread with the fewest jobs in hand. Idle threads do not keep the process alive.
 */

const JOBS = new URL('./draw-jobs.ts', import.meta.url);
const SIZE = Math.max(1, Math.min(4, availableParallelism()));

const threads: { handler: ThreadedHandler; inHand: number }[] = [];

async function run(job: DrawJob): Promise<unknown> {
  if (threads.length < SIZE && threads.every((thread) => thread.inHand > 0)) {
    threads.push({ handler: new ThreadedHandler(JOBS), inHand: 0 });
  }
  const thread = threads.reduce((best, candidate) => (candidate.inHand < best.inHand ? candidate : best));
  thread.inHand += 1;
  try {
    return await thread.handler.invoke(job);
  } finally {
    thread.inHand -= 1;
  }
}

/** Bytes that crossed a thread (a Uint8Array) as a Buffer over the same memory. */
function asBuffer(bytes: unknown): Buffer {
  const view = bytes as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** Draws a picture (draw.ts's `drawPicture`) and encodes it as `output` says. */
export async function drawEncoded(
  options: DrawOptions,
  output: Exclude<DrawOutput, { as: 'bitmap' }>,
): Promise<Buffer> {
  return asBuffer(await run({ kind: 'draw', options, output }));
}

/** The RGBA pixels of a drawn picture (draw.ts's `drawPicture`). */
export async function drawBitmap(options: DrawOptions): Promise<Bitmap> {
  return (await run({ kind: 'draw', options, output: { as: 'bitmap' } })) as Bitmap;
}

/** Encodes RGBA pixels with the project's codecs. */
export async function encodeBitmap(
  bitmap: Bitmap,
  format: 'png' | 'jpeg' | 'webp',
  quality?: number,
): Promise<Buffer> {
  const job: DrawJob = { kind: 'encode', bitmap, format, ...(quality === undefined ? {} : { quality }) };
  return asBuffer(await run(job));
}

/** Ends the threads (the host stopping); the next job starts them again. */
export async function closeDrawPool(): Promise<void> {
  const ending = threads.splice(0);
  await Promise.all(ending.map((thread) => thread.handler.close()));
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../functions/core/images/codecs.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/** downscale over HTTP: the guide's example, square padding, format conversion and bad inputs. */

let stack: TestStack;
let photoUrl: string;

beforeAll(async () => {
  stack = await startTestStack();
  photoUrl = await stack.upload(
    'uploads/downscale/photo.jpg',
    await makePhotoFile('jpeg', 1600, 1200),
    'image/jpeg',
  );
});

afterAll(async () => {
  await stack.stop();
});

async function downscale(body: Record<string, unknown>) {
  const response = await stack.call('/generation/downscale', { body });
  expect(response.status).toBe(202);
  const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
  const done = await stack.waitForTask(jobId);
  return { jobId, done };
}

describe('downscale', () => {
  it('runs the guide example: at most max_size_mb, original proportions, image_url', async () => {
    const { jobId, done } = await downscale({
      task_id: 'downscale-001',
      input_image_asset_url: photoUrl,
      max_size_mb: 0.1,
      aspect_ratio_mode: 'original',
      output_format: 'original',
    });
    expect(done).toMatchObject({ status: 'complete', provider: 'bff', operation: 'downscale' });
    expect(done.image_url).toBe(done.asset_url);
    const bytes = Buffer.from(await (await fetch(String(done.asset_url))).arrayBuffer());
    expect(bytes.length).toBeLessThanOrEqual(0.1 * 1024 * 1024);
    const image = await decodeImage(bytes);
    expect(image.format).toBe('jpeg');
    expect(image.width / image.height).toBeCloseTo(4 / 3, 1);
    const [row] = (await (await fetch(`${stack.url}/rest/v1/concept_images?job_id=eq.${jobId}`)).json()) as {
      metadata: { facts: Record<string, unknown> };
    }[];
    expect(row?.metadata.facts).toMatchObject({
      original_width: 1600,
      original_height: 1200,
      original_format: 'jpeg',
      final_bytes: bytes.length,
      final_width: image.width,
      final_height: image.height,
      final_format: 'jpeg',
    });
  });

  it('pads to a square PNG and ignores a provider field', async () => {
    const { done } = await downscale({
      task_id: 'downscale-002',
      provider: 'openai',
      input_image_asset_url: photoUrl,
      max_size_mb: 0.5,
      aspect_ratio_mode: 'square',
      output_format: 'png',
    });
    expect(done.status).toBe('complete');
    const bytes = Buffer.from(await (await fetch(String(done.asset_url))).arrayBuffer());
    expect(bytes.length).toBeLessThanOrEqual(0.5 * 1024 * 1024);
    const image = await decodeImage(bytes);
    expect(image.format).toBe('png');
    expect(image.width).toBe(image.height);
  });

  it('validates max_size_mb and the modes before anything runs', async () => {
    const response = await stack.call('/generation/downscale', {
      body: {
        task_id: 'd',
        input_image_asset_url: photoUrl,
        max_size_mb: 25,
        aspect_ratio_mode: 'wide',
        output_format: 'gif',
      },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { field: string; message: string }[] };
    expect(body.errors).toEqual([
      { field: 'max_size_mb', message: 'must be a number between 0.1 and 20' },
      { field: 'aspect_ratio_mode', message: 'must be one of: original, square' },
      { field: 'output_format', message: 'must be one of: original, jpeg, png' },
    ]);
  });

  it('fails a file that is not an image as input_invalid', async () => {
    const url = await stack.upload(
      'uploads/downscale/notes.txt',
      Buffer.from('not an image at all'),
      'text/plain',
    );
    const { done } = await downscale({
      task_id: 'downscale-003',
      input_image_asset_url: url,
      max_size_mb: 1,
      aspect_ratio_mode: 'original',
    });
    expect(done).toMatchObject({ status: 'failed', error_code: 'input_invalid' });
  });
});

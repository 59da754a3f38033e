import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../functions/core/images/codecs.ts';
import { handler as processImageInProcess } from '../../functions/workflow/process-image.ts';
import { ThreadedHandler } from '../../infra/local/image-worker.ts';
import { makePhotoFile } from '../support/image-fixtures.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The local host runs state ProcessImage (a downscale: decode, resize, re-encode) on a worker
 * thread, so a 12-megapixel photo does not stall the API, storage and simulators it also serves.
 */

const PROCESS_IMAGE = new URL('../../functions/workflow/process-image.ts', import.meta.url);

let stack: TestStack;
let photoUrl: string;

beforeAll(async () => {
  stack = await startTestStack();
  photoUrl = await stack.upload(
    'uploads/event-loop/photo-12mp.jpg',
    await makePhotoFile('jpeg', 4000, 3000),
    'image/jpeg',
  );
});

afterAll(async () => {
  await stack?.stop();
});

describe('ProcessImage on the local host', () => {
  it('keeps the event loop free while a 12 MP downscale runs, and /health answers meanwhile', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const started = performance.now();
    delay.enable();
    const response = await stack.call('/generation/downscale', {
      body: {
        task_id: 'event-loop-12mp',
        input_image_asset_url: photoUrl,
        max_size_mb: 0.5,
        aspect_ratio_mode: 'original',
        output_format: 'jpeg',
      },
    });
    expect(response.status).toBe(202);
    const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };

    // Ask /health over and over until the task ends, noting which answers came while the
    // execution was inside ProcessImage.
    const healthDuringProcessImage: number[] = [];
    let status: Record<string, unknown> = {};
    for (;;) {
      const inProcessImage = stack.runner.executions.get(jobId)?.states.at(-1) === 'ProcessImage';
      const asked = performance.now();
      const health = await stack.call('/health', { apiKey: null });
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'healthy' });
      const stillInProcessImage = stack.runner.executions.get(jobId)?.states.at(-1) === 'ProcessImage';
      if (inProcessImage && stillInProcessImage) healthDuringProcessImage.push(performance.now() - asked);
      status = (await (await stack.call(`/tasks/${jobId}/status`)).json()) as Record<string, unknown>;
      if (status.status === 'complete' || status.status === 'failed') break;
    }
    const duration = performance.now() - started;
    delay.disable();
    const maxDelayMs = delay.max / 1e6;
    console.info(
      `12 MP downscale: ${duration.toFixed(0)} ms; event-loop delay max ${maxDelayMs.toFixed(1)} ms, ` +
        `p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; /health answered ${healthDuringProcessImage.length} ` +
        `times during ProcessImage, slowest ${Math.max(0, ...healthDuringProcessImage).toFixed(1)} ms`,
    );

    expect(status).toMatchObject({ status: 'complete', operation: 'downscale' });
    const output = await decodeImage(
      Buffer.from(await (await fetch(String(status.asset_url))).arrayBuffer()),
    );
    expect(output.format).toBe('jpeg');
    expect(stack.runner.executions.get(jobId)?.states).toContain('ProcessImage');
    expect(healthDuringProcessImage.length).toBeGreaterThan(0);
    // Relative, so a slow machine slows both sides: in-process, the longest stall is most of the
    // downscale (one synchronous decode or encode); on a worker it is a small fraction.
    expect(maxDelayMs).toBeLessThan(duration / 4);
  });

  it('keeps idle connections open longer than ProcessImage may run, so the worker can reuse them', async () => {
    const definition = JSON.parse(
      readFileSync(new URL('../../state-machines/generation.asl.json', import.meta.url), 'utf8'),
    ) as {
      States: Record<string, { TimeoutSeconds?: number }>;
    };
    const stepSeconds = definition.States.ProcessImage?.TimeoutSeconds;
    expect(stepSeconds).toBeGreaterThan(0);
    const health = await stack.call('/health', { apiKey: null });
    await health.text();
    const idleSeconds = Number(/timeout=(\d+)/.exec(health.headers.get('keep-alive') ?? '')?.[1]);
    expect(idleSeconds).toBeGreaterThan(stepSeconds ?? Number.POSITIVE_INFINITY);
  });

  it('rejects with the same error name and message as the handler in-process', async () => {
    const worker = new ThreadedHandler(PROCESS_IMAGE);
    try {
      const notAnImage = await stack.upload(
        'uploads/event-loop/not-an-image.jpg',
        Buffer.from('hello'),
        'image/jpeg',
      );
      const task = {
        tenant_id: 'tenant-event-loop',
        job_id: 'job-event-loop-bad-input',
        client_task_id: 'event-loop-bad-input',
        operation: 'downscale',
        provider: 'bff',
        params: {
          task_id: 'event-loop-bad-input',
          provider: 'bff',
          input_image_asset_url: notAnImage,
          max_size_mb: 1,
          aspect_ratio_mode: 'original',
          output_format: 'original',
        },
      };
      // A bad input (a named error the ASL's Catch and FailTask read) and a bad event (a bug).
      const cases: [unknown, string][] = [
        [{ task }, 'InputInvalidError'],
        [{ task: { job_id: 'no-such-shape' } }, 'ZodError'],
      ];
      for (const [event, name] of cases) {
        const inProcess = await processImageInProcess(event).then(
          () => undefined,
          (error: Error) => error,
        );
        const threaded = await worker.invoke(event).then(
          () => undefined,
          (error: Error) => error,
        );
        expect(inProcess?.name).toBe(name);
        expect(threaded).toBeInstanceOf(Error);
        expect({ name: threaded?.name, message: threaded?.message }).toEqual({
          name: inProcess?.name,
          message: inProcess?.message,
        });
      }
    } finally {
      await worker.close();
    }
  });

  it('leaves a call cut short by close() unsettled, as a stopped host would, and starts afresh after', async () => {
    const worker = new ThreadedHandler(PROCESS_IMAGE);
    const event = {
      task: {
        tenant_id: 'tenant-event-loop',
        job_id: 'job-event-loop-closed',
        client_task_id: 'event-loop-closed',
        operation: 'downscale',
        provider: 'bff',
        params: {
          task_id: 'event-loop-closed',
          provider: 'bff',
          input_image_asset_url: photoUrl,
          max_size_mb: 0.5,
          aspect_ratio_mode: 'original',
          output_format: 'jpeg',
        },
      },
    };
    let settled = false;
    worker.invoke(event).then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await worker.close();
    await new Promise((resolve) => setImmediate(resolve));
    // Not failed: a failure would reach FailTask and mark the task failed instead of resuming it.
    expect(settled).toBe(false);
    try {
      await expect(worker.invoke({})).rejects.toMatchObject({ name: 'ZodError' });
    } finally {
      await worker.close();
    }
  });

  it('fails the calls of a worker that dies as an unhandled Lambda error (Lambda.Unknown)', async () => {
    const broken = new ThreadedHandler(new URL('./no-such-handler.ts', import.meta.url));
    try {
      await expect(broken.invoke({})).rejects.toMatchObject({
        name: 'Lambda.Unknown',
        message: expect.stringContaining('no-such-handler'),
      });
    } finally {
      await broken.close();
    }
  });
});

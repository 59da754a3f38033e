import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fluxSandboxSettings,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { PNG_SIGNATURE, samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * The guide's Flux image-to-image example as a client sends it, over HTTP against the local
 * stack, with the BFL simulator behind the adapter.
 */

let stack: TestStack;
let inputUrl: string;
let inputBytes: Buffer;
const outputScaleBefore = fluxSandboxSettings.outputScale;
const pendingPollsBefore = fluxSandboxSettings.pendingPolls;

beforeAll(async () => {
  // Real (short) Waits, so a client polling the status route can see the task in progress.
  stack = await startTestStack({ waitMs: 250 });
  inputBytes = await samplePng(160, 120);
  inputUrl = await stack.upload('uploads/flux-e2e/input.png', inputBytes, 'image/png');
  fluxSandboxSettings.outputScale = 0.25;
});

afterAll(async () => {
  fluxSandboxSettings.outputScale = outputScaleBefore;
  setFluxPendingPolls(pendingPollsBefore);
  await stack.stop();
});

beforeEach(async () => {
  await fetch(`${stack.url}/__sandbox/flux/faults`, { method: 'DELETE' });
  resetFluxSandbox();
});

/** The guide's example body, with the input URL of an image uploaded to this stack. */
function guideExample(taskId: string): Record<string, unknown> {
  return {
    task_id: taskId,
    provider: 'flux',
    prompt: 'A futuristic cityscape at dusk',
    input_image_asset_url: inputUrl,
    aspect_ratio: '1:1',
    output_format: 'png',
    safety_tolerance: 2,
    prompt_upsampling: false,
  };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** Polls the status route as a client does, keeping every answer. */
async function pollStatus(jobId: string): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  for (let attempt = 0; attempt < 6000; attempt++) {
    const body = await json(await stack.call(`/tasks/${jobId}/status?service=openai`));
    seen.push(body);
    if (body.status === 'complete' || body.status === 'failed') return seen;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${jobId} did not finish`);
}

describe('Flux image-to-image over HTTP', () => {
  it('runs the guide example to a stored PNG, showing progress on the way', async () => {
    setFluxPendingPolls(3);
    const submitted = await stack.call('/generation/image-to-image', {
      body: guideExample('task-workspace-mno012'),
    });
    expect(submitted.status).toBe(202);
    const accepted = await json(submitted);
    const jobId = String(accepted.celery_task_id);
    expect(accepted).toEqual({
      celery_task_id: jobId,
      task_id: 'task-workspace-mno012',
      status: 'pending',
      status_url: `/tasks/${jobId}/status`,
    });

    const seen = await pollStatus(jobId);
    const final = seen.at(-1) ?? {};
    expect(final).toMatchObject({
      task_id: jobId,
      status: 'complete',
      error: null,
      progress: 100,
      client_task_id: 'task-workspace-mno012',
      operation: 'image-to-image',
      provider: 'flux',
    });
    expect(String(final.ai_service_task_id)).toMatch(/^[0-9a-f-]{36}$/);

    // While BFL said Pending, the client saw `processing` with BFL's progress, never going down.
    const inProgress = seen.filter(
      (body) => body.status === 'processing' && typeof body.progress === 'number',
    );
    expect(inProgress.length).toBeGreaterThan(0);
    const progress = seen
      .map((body) => body.progress)
      .filter((value): value is number => typeof value === 'number');
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    for (const value of inProgress.map((body) => Number(body.progress))) {
      expect([25, 50, 75]).toContain(value);
    }

    const download = await fetch(String(final.asset_url));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    // IHDR: the 1:1 the client asked for, not the input's 4:3.
    expect(bytes.readUInt32BE(16)).toBe(bytes.readUInt32BE(20));
    expect(String(final.asset_url)).toContain(`/development_tenant/task-workspace-mno012/${jobId}/0.png`);

    const requests = await stack.sandboxRequests('flux');
    const creates = requests.filter((request) => request.path.startsWith('/v1/flux-kontext-'));
    expect(creates).toHaveLength(1);
    const [create] = creates;
    expect(create?.path).toBe('/v1/flux-kontext-pro');
    expect(create?.fields).toEqual({
      prompt: 'A futuristic cityscape at dusk',
      input_image: inputBytes.toString('base64'),
      aspect_ratio: '1:1',
      output_format: 'png',
      safety_tolerance: 2,
      prompt_upsampling: false,
    });
    const polls = requests.filter((request) => request.path === '/v1/get_result');
    expect(polls).toHaveLength(4);
    for (const request of [...creates, ...polls]) {
      expect(request).toMatchObject({ headers: expect.objectContaining({ 'x-key': 'sandbox' }) });
    }
    expect(polls.every((request) => (request as { method?: string }).method === 'GET')).toBe(true);
  });

  it('reports a moderated result as failed with content_moderated', async () => {
    setFluxPendingPolls(1);
    await stack.fault('flux', { moderated: true });
    const submitted = await stack.call('/generation/image-to-image', {
      body: guideExample('flux-moderated'),
    });
    expect(submitted.status).toBe(202);
    const final = (await pollStatus(String((await json(submitted)).celery_task_id))).at(-1);
    expect(final).toMatchObject({ status: 'failed', error_code: 'content_moderated', asset_url: null });
    expect(String(final?.error)).toMatch(/content policy.*generated image was flagged/);
  });

  it('answers a value BFL does not take with 400 before anything runs', async () => {
    const response = await stack.call('/generation/image-to-image', {
      body: { ...guideExample('flux-invalid'), output_format: 'webp', safety_tolerance: 7 },
    });
    expect(response.status).toBe(400);
    expect((await json(response)).errors).toEqual([
      { field: 'output_format', message: 'must be one of: png, jpeg' },
      { field: 'safety_tolerance', message: 'must be an integer between 0 and 6' },
    ]);
    expect(await stack.sandboxRequests('flux')).toHaveLength(0);
  });
});

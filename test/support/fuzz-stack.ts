import type { FuzzContext } from './fuzz-bodies.ts';
import { samplePng, startTestStack, TEST_KEY, type TestStack } from './local-stack.ts';

/**
 * A local stack set up for fuzzing: limits high enough that the rate limiters never answer for
 * the generators, every provider simulator declining each call (so the few fuzz bodies that are
 * accepted end their executions at the first provider call instead of making images), an input
 * image in storage, and a finished and a failed task for the status route to read.
 */
export async function startFuzzStack(): Promise<{ stack: TestStack; context: FuzzContext }> {
  const stack = await startTestStack({
    env: {
      RATE_LIMIT_GENERATION_PER_MINUTE: '10000000',
      RATE_LIMIT_STATUS_PER_MINUTE: '10000000',
      REGISTRATION_FAILURES_PER_WINDOW: '10000000',
    },
  });
  for (const provider of stack.sandboxed) await stack.fault(provider, { status: 400, times: 10_000_000 });
  const imageUrl = await stack.upload('uploads/fuzz/input.png', await samplePng(64, 64), 'image/png');

  const jobIds: string[] = [];
  const submits = [
    ['downscale', { provider: 'bff', max_size_mb: 1, aspect_ratio_mode: 'original' }],
    ['text-to-image', { provider: 'openai', prompt: 'a cube' }],
  ] as const;
  for (const [operation, fields] of submits) {
    const response = await stack.call(`/generation/${operation}`, {
      body: { task_id: `fuzz-${operation}`, input_image_asset_url: imageUrl, ...fields },
    });
    const body = (await response.json()) as { celery_task_id?: string };
    if (response.status !== 202 || !body.celery_task_id) {
      throw new Error(`setup submit failed: ${response.status} ${JSON.stringify(body)}`);
    }
    await stack.waitForTask(body.celery_task_id);
    jobIds.push(body.celery_task_id);
  }
  return {
    stack,
    context: { apiKey: TEST_KEY, registrationSecret: stack.registrationSecret, imageUrl, jobIds },
  };
}

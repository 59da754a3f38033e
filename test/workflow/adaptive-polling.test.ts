import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import { tripoGenerationPolling } from '../../functions/core/providers/tripo/settings.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import {
  fluxSandboxSettings,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { resetTripoSandbox, setTripoClockTimeline, tripoCalls } from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * How often the real state-machines/generation.asl.json polls an asynchronous provider, counted
 * in state transitions (states entered: the unit Step Functions bills). Time is simulated: the
 * test fakes only `Date`, and the runner's read-only Wait hook moves it by the seconds each Wait
 * asked for before the poll after it runs, so the BFF's elapsed time and deadline and the
 * simulators' progress all see a task of many minutes while the test takes seconds. No timers
 * are faked and nothing depends on real time.
 */

const TENANT = 'development_tenant';
let stack: TestStack;
let inputUrl: string;
let counter = 0;
const outputScaleBefore = fluxSandboxSettings.outputScale;
const pendingPollsBefore = fluxSandboxSettings.pendingPolls;

beforeAll(async () => {
  stack = await startTestStack();
  inputUrl = await stack.upload('uploads/adaptive-polling/input.png', await samplePng(96, 64), 'image/png');
  fluxSandboxSettings.outputScale = 0.25;
});

afterAll(async () => {
  fluxSandboxSettings.outputScale = outputScaleBefore;
  setFluxPendingPolls(pendingPollsBefore);
  resetTripoSandbox();
  await stack.stop();
});

beforeEach(() => {
  resetTripoSandbox();
  resetFluxSandbox();
  // The simulated clock: Date only, moved by each Wait the state machine asks for.
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  stack.runner.onWait = ({ seconds }) => vi.setSystemTime(Date.now() + seconds * 1000);
});

afterEach(() => {
  stack.runner.onWait = undefined;
  vi.useRealTimers();
});

function taskRef(operation: string, provider: string, body: Record<string, unknown>): TaskRef {
  counter += 1;
  const { params, clientTaskId } = validateGeneration(operation, {
    task_id: `adaptive-${counter}`,
    provider,
    ...body,
  });
  return {
    tenant_id: TENANT,
    job_id: `adaptive-polling-${counter}-${Date.now()}`,
    client_task_id: clientTaskId,
    operation,
    provider,
    params,
  };
}

async function run(ref: TaskRef) {
  expect(await taskRepository.create(ref)).toBe(true);
  const execution = stack.runner.start(ref.job_id, JSON.stringify(ref));
  await execution.done;
  const polls = execution.states.filter((state) => state === 'PollProviderJob').length;
  const simulatedSeconds = execution.waits.reduce((total, wait) => total + wait, 0);
  return { execution, polls, simulatedSeconds, task: await taskRepository.get(TENANT, ref.job_id) };
}

describe('adaptive polling without webhooks', () => {
  it('follows a 10-minute Tripo task in at most 45 state transitions', async () => {
    // Queued 30 s, then running 570 s: success 600 s after the create.
    setTripoClockTimeline(30, 570);
    const { execution, polls, simulatedSeconds, task } = await run(
      taskRef('text-to-model', 'tripo', { prompt: 'a lighthouse on a cliff' }),
    );
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    // The fixed 2 → 30 s ladder took 77 transitions for the same task.
    expect(execution.states.length).toBeLessThanOrEqual(45);
    // One Tripo GET per poll, each after a Wait; never faster than Tripo's 1 request/s per task.
    expect(execution.waits).toHaveLength(polls);
    expect(tripoCalls().filter((call) => call.endpoint === 'GET /v3/tasks/{task_id}')).toHaveLength(polls);
    for (const wait of execution.waits) {
      expect(wait).toBeGreaterThanOrEqual(tripoGenerationPolling.minWaitSeconds);
      expect(wait).toBeLessThanOrEqual(tripoGenerationPolling.maxWaitSeconds);
    }
    // Seen done within one ceiling wait of finishing.
    expect(simulatedSeconds).toBeGreaterThanOrEqual(600);
    expect(simulatedSeconds).toBeLessThanOrEqual(600 + tripoGenerationPolling.maxWaitSeconds);
  });

  it('polls a short Tripo task soon after it finishes', async () => {
    setTripoClockTimeline(5, 40);
    const { execution, simulatedSeconds, task } = await run(
      taskRef('text-to-model', 'tripo', { prompt: 'a teapot' }),
    );
    expect(task?.status).toBe('complete');
    expect(execution.states.length).toBeLessThanOrEqual(8 + 3 * 6);
    expect(simulatedSeconds).toBeGreaterThanOrEqual(45);
    expect(simulatedSeconds).toBeLessThanOrEqual(45 + 15);
  });

  it('never polls a Flux job more often than every 2 s', async () => {
    setFluxPendingPolls(4);
    const { execution, polls, task } = await run(
      taskRef('image-to-image', 'flux', { prompt: 'make it a watercolour', input_image_asset_url: inputUrl }),
    );
    expect(task?.status).toBe('complete');
    expect(polls).toBe(5);
    expect(execution.waits).toHaveLength(5);
    for (const wait of execution.waits) expect(wait).toBeGreaterThanOrEqual(2);
  });

  it('fails a Flux job stuck Pending at its 10-minute deadline after a few dozen polls', async () => {
    // Pending (progress 0) for far longer than the deadline.
    setFluxPendingPolls(1_000_000);
    const { execution, polls, simulatedSeconds, task } = await run(
      taskRef('image-to-image', 'flux', { prompt: 'make it a watercolour', input_image_asset_url: inputUrl }),
    );
    expect(execution.status).toBe('FAILED');
    expect(task).toMatchObject({ status: 'failed', error_code: 'provider_timeout' });
    expect(task?.error).toMatch(/did not finish within 10 minutes \(timed out\)/);
    for (const wait of execution.waits) {
      expect(wait).toBeGreaterThanOrEqual(fluxPolling.minWaitSeconds);
      expect(wait).toBeLessThanOrEqual(fluxPolling.maxWaitSeconds);
    }
    // The last poll lands just after the deadline: not early, and at most 2 s late.
    expect(simulatedSeconds).toBeGreaterThan(600);
    expect(simulatedSeconds).toBeLessThanOrEqual(602);
    // One poll a second took ~600 polls (~1,800 transitions); the growing waits take a few dozen.
    expect(polls).toBeLessThanOrEqual(30);
    expect(execution.states.length).toBeLessThanOrEqual(100);
  });
});

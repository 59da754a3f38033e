import { describe, expect, it } from 'vitest';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import { tripoGenerationPolling } from '../../functions/core/providers/tripo/settings.ts';
import { setFluxPendingPolls } from '../../infra/local/sandbox/flux.ts';
import { setTripoClockTimeline, tripoCalls } from '../../infra/local/sandbox/tripo.ts';
import { simulatedClockWorkflow } from '../support/simulated-clock.ts';

/**
 * How often the real state-machines/generation.asl.json polls an asynchronous provider, counted
 * in state transitions (states entered: the unit Step Functions bills), on simulated time
 * (test/support/simulated-clock.ts): a task of many minutes while the test takes seconds.
 */

const workflow = simulatedClockWorkflow('adaptive-polling');

describe('adaptive polling without webhooks', () => {
  it('follows a 10-minute Tripo task in at most 45 state transitions', async () => {
    // Queued 30 s, then running 570 s: success 600 s after the create.
    setTripoClockTimeline(30, 570);
    const { execution, polls, simulatedSeconds, task } = await workflow.run(
      workflow.taskRef('text-to-model', 'tripo', { prompt: 'a lighthouse on a cliff' }),
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
    const { execution, simulatedSeconds, task } = await workflow.run(
      workflow.taskRef('text-to-model', 'tripo', { prompt: 'a teapot' }),
    );
    expect(task?.status).toBe('complete');
    expect(execution.states.length).toBeLessThanOrEqual(8 + 3 * 6);
    expect(simulatedSeconds).toBeGreaterThanOrEqual(45);
    expect(simulatedSeconds).toBeLessThanOrEqual(45 + 15);
  });

  it('never polls a Flux job more often than every 2 s', async () => {
    setFluxPendingPolls(4);
    const { execution, polls, task } = await workflow.run(workflow.fluxTaskRef());
    expect(task?.status).toBe('complete');
    expect(polls).toBe(5);
    expect(execution.waits).toHaveLength(5);
    for (const wait of execution.waits) expect(wait).toBeGreaterThanOrEqual(2);
  });

  it('fails a Flux job stuck Pending at its 10-minute deadline after a few dozen polls', async () => {
    // Pending (progress 0) for far longer than the deadline.
    setFluxPendingPolls(1_000_000);
    const { execution, polls, simulatedSeconds, task } = await workflow.run(workflow.fluxTaskRef());
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

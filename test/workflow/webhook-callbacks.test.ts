import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fluxPolling } from '../../functions/core/providers/flux/settings.ts';
import { tripoGenerationPolling } from '../../functions/core/providers/tripo/settings.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { noteCallback, recordCallbackToken } from '../../functions/core/webhooks/callback-store.ts';
import { resumeByCallback } from '../../functions/core/webhooks/resume.ts';
import {
  flushFluxWebhooks,
  fluxSandboxSettings,
  fluxWebhookDeliveries,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import {
  flushTripoWebhooks,
  nextTripoWebhookAt,
  setTripoClockTimeline,
  tripoCalls,
  tripoWebhookDeliveries,
  tripoWebhookSettings,
} from '../../infra/local/sandbox/tripo.ts';
import { SIMULATED_TENANT, simulatedClockWorkflow } from '../support/simulated-clock.ts';

/**
 * Asynchronous jobs finished by the provider's webhook (docs/api.md, Webhooks), counted in state
 * transitions as test/workflow/adaptive-polling.test.ts counts the polling path, on the same
 * simulated time (test/support/simulated-clock.ts). Each task-token wait is ended by the test through
 * the runner's `onCallbackWait` hook, either by moving the clock to the moment the simulated job
 * ends and sending the simulator's webhook (which reaches the stack over HTTP, is verified, and
 * resumes the wait with SendTaskSuccess), or, when no webhook is due within the wait's timeout,
 * by moving the clock by the timeout and expiring the wait as Step Functions would.
 */

const workflow = simulatedClockWorkflow('webhook-callbacks', { webhooks: true });

/** How each callback wait ended, as the test decided: by a webhook or by its timeout. */
let endings: ('webhook' | 'timeout')[] = [];

beforeEach(() => {
  endings = [];
});

/** Tripo: the webhook comes when the simulated task ends, if that is within the wait's timeout. */
function tripoTimeline(): void {
  workflow.stack.runner.onCallbackWait = ({ seconds, expire }) => {
    const until = Date.now() + seconds * 1000;
    const due = nextTripoWebhookAt();
    if (due !== undefined && due <= until && tripoWebhookSettings.deliver) {
      vi.setSystemTime(Math.max(Date.now(), due));
      endings.push('webhook');
      void flushTripoWebhooks();
    } else {
      vi.setSystemTime(until);
      endings.push('timeout');
      expire();
    }
  };
}

describe('asynchronous jobs finished by webhook', () => {
  it('follows a 10-minute Tripo task in at most 15 state transitions', async () => {
    setTripoClockTimeline(30, 570);
    const started = Date.now();
    tripoTimeline();
    const { execution, polls, task } = await workflow.run(
      workflow.taskRef('text-to-model', 'tripo', { prompt: 'a lighthouse on a cliff' }),
    );
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(execution.states.length).toBeLessThanOrEqual(15);
    // The last wait ended by the webhook, not by its timeout; then one poll read the status.
    expect(execution.callbackWaits.at(-1)?.ended).toBe('callback');
    expect(endings.at(-1)).toBe('webhook');
    expect(tripoWebhookDeliveries().map((delivery) => delivery.status)).toEqual([200]);
    expect(tripoCalls().filter((call) => call.endpoint === 'GET /v3/tasks/{task_id}')).toHaveLength(polls);
    for (const wait of execution.callbackWaits) {
      expect(wait.seconds).toBeGreaterThanOrEqual(tripoGenerationPolling.maxWaitSeconds);
    }
    // Seen done at the moment the task ended (600 s after the create), not a wait later.
    expect(Date.now() - started).toBeLessThan(601_000);
  });

  it('follows a Flux job with a webhook in at most 15 state transitions', async () => {
    setFluxPendingPolls(1_000_000);
    workflow.stack.runner.onCallbackWait = () => {
      endings.push('webhook');
      void flushFluxWebhooks();
    };
    const { execution, polls, task } = await workflow.run(workflow.fluxTaskRef());
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(execution.states.length).toBeLessThanOrEqual(15);
    expect(polls).toBe(1);
    expect(execution.callbackWaits.map((wait) => wait.ended)).toEqual(['callback']);
    const [delivery] = fluxWebhookDeliveries();
    expect(delivery?.status).toBe(200);
    expect(delivery?.url).toMatch(/\/webhooks\/bfl\/[A-Za-z0-9_-]{40,}$/);
    expect(delivery?.headers['x-bfl-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('completes a Tripo task by polling when its webhook never comes', async () => {
    setTripoClockTimeline(10, 200);
    tripoWebhookSettings.deliver = false;
    tripoTimeline();
    const { execution, task } = await workflow.run(
      workflow.taskRef('text-to-model', 'tripo', { prompt: 'a teapot' }),
    );
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(execution.callbackWaits.length).toBeGreaterThan(0);
    expect(execution.callbackWaits.every((wait) => wait.ended === 'timeout')).toBe(true);
    expect(tripoWebhookDeliveries()).toHaveLength(0);
  });

  it('completes a Flux job by polling when its webhook never comes, never polling within 2 s', async () => {
    setFluxPendingPolls(4);
    fluxSandboxSettings.deliverWebhooks = false;
    workflow.stack.runner.onCallbackWait = ({ seconds, expire }) => {
      vi.setSystemTime(Date.now() + seconds * 1000);
      endings.push('timeout');
      expire();
    };
    const { execution, polls, task } = await workflow.run(workflow.fluxTaskRef());
    expect(execution.status).toBe('SUCCEEDED');
    expect(task?.status).toBe('complete');
    expect(polls).toBe(5);
    expect(execution.callbackWaits.map((wait) => wait.ended)).toEqual(Array(5).fill('timeout'));
    for (const wait of [...execution.waits, ...execution.callbackWaits.map((entry) => entry.seconds)]) {
      expect(wait).toBeGreaterThanOrEqual(fluxPolling.minWaitSeconds);
    }
  });

  it('resumes at once when the webhook came before the token was stored', async () => {
    setFluxPendingPolls(0);
    fluxSandboxSettings.deliverWebhooks = false;
    let hooked = 0;
    workflow.stack.runner.onCallbackWait = () => {
      hooked += 1;
    };
    const ref = workflow.fluxTaskRef();
    expect(await taskRepository.create(ref)).toBe(true);
    // The webhook is taken while the task is processing and no wait has stored a token yet.
    expect(await taskRepository.markProcessing(SIMULATED_TENANT, ref.job_id)).toBe(true);
    expect(await noteCallback(SIMULATED_TENANT, ref.job_id)).toEqual({ kind: 'noted' });
    const execution = workflow.stack.runner.start(ref.job_id, JSON.stringify(ref));
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    // The token-recording step found the note and resumed its own wait through SendTaskSuccess.
    expect(execution.callbackWaits.map((wait) => wait.ended)).toEqual(['callback']);
    expect(hooked).toBe(1);
    expect(execution.states.filter((state) => state === 'PollProviderJob')).toHaveLength(1);
  });
});

describe('the callback notes on the task (conditional writes)', () => {
  async function processingTask(): Promise<string> {
    const ref = workflow.taskRef('text-to-model', 'tripo', { prompt: 'a cube' });
    expect(await taskRepository.create(ref)).toBe(true);
    expect(await taskRepository.markProcessing(SIMULATED_TENANT, ref.job_id)).toBe(true);
    return ref.job_id;
  }

  it('lets exactly one of the webhook and the token-recording step resume, whichever comes first', async () => {
    const jobId = await processingTask();
    // Token first: the webhook takes it (once).
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'token-1')).toBe('stored');
    expect(await noteCallback(SIMULATED_TENANT, jobId)).toEqual({ kind: 'token', token: 'token-1' });
    // Webhook first: it leaves a note, which the next wait takes instead of storing its token.
    expect(await noteCallback(SIMULATED_TENANT, jobId)).toEqual({ kind: 'noted' });
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'token-2')).toBe('callback-arrived');
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'token-3')).toBe('stored');
  });

  it('turns a webhook for a token nobody waits on into a note for the next wait', async () => {
    const jobId = await processingTask();
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'timed-out-token')).toBe('stored');
    const sent: string[] = [];
    // The SFN API at the network edge: this token's wait has timed out.
    const outcome = await resumeByCallback({ tenant_id: SIMULATED_TENANT, job_id: jobId }, 'tripo', {
      resume: async (token) => {
        sent.push(token);
        return false;
      },
    });
    expect(outcome).toBe('noted');
    expect(sent).toEqual(['timed-out-token']);
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'next-token')).toBe('callback-arrived');
  });

  it('does nothing for a task that is no longer processing', async () => {
    const jobId = await processingTask();
    expect(await taskRepository.markFailed(SIMULATED_TENANT, jobId, 'failed for the test', 'internal')).toBe(
      true,
    );
    expect(await noteCallback(SIMULATED_TENANT, jobId)).toEqual({ kind: 'not-processing' });
    expect(await recordCallbackToken(SIMULATED_TENANT, jobId, 'token')).toBe('not-processing');
  });
});

import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fluxSandboxSettings,
  fluxWebhookDeliveries,
  resetFluxSandbox,
} from '../../infra/local/sandbox/flux.ts';
import {
  resetTripoSandbox,
  tripoCalls,
  tripoWebhookDeliveries,
  tripoWebhookSettings,
} from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Webhooks end to end over HTTP (docs/api.md, Webhooks): the stack's simulators call the stack's
 * own webhook routes, signed as the providers sign, and the execution resumes from its task-token
 * wait at once (its timeout, a minute of real time, is never reached); a redelivery is ignored,
 * and a forged delivery is refused with 401 while the task still completes by polling.
 */

let stack: TestStack;
let inputUrl: string;
let counter = 0;
const defaultTimelineBefore = { ...tripoWebhookSettings.defaultTimeline };
const webhookAfterBefore = fluxSandboxSettings.webhookAfterMs;
const outputScaleBefore = fluxSandboxSettings.outputScale;

beforeAll(async () => {
  stack = await startTestStack({ webhooks: true });
  inputUrl = await stack.upload('uploads/webhooks-e2e/input.png', await samplePng(96, 64), 'image/png');
  tripoWebhookSettings.defaultTimeline = { queuedMs: 100, runningMs: 300 };
  fluxSandboxSettings.webhookAfterMs = 100;
  fluxSandboxSettings.outputScale = 0.25;
});

afterAll(async () => {
  tripoWebhookSettings.defaultTimeline = defaultTimelineBefore;
  fluxSandboxSettings.webhookAfterMs = webhookAfterBefore;
  fluxSandboxSettings.outputScale = outputScaleBefore;
  resetTripoSandbox();
  resetFluxSandbox();
  await stack.stop();
});

beforeEach(() => {
  resetTripoSandbox();
  resetFluxSandbox();
});

afterEach(() => {
  stack.runner.onCallbackWait = undefined;
});

async function submit(operation: string, body: Record<string, unknown>): Promise<string> {
  counter += 1;
  const response = await stack.call(`/generation/${operation}`, {
    body: { task_id: `webhooks-e2e-${counter}`, ...body },
  });
  expect(response.status).toBe(202);
  return String(((await response.json()) as { celery_task_id: string }).celery_task_id);
}

function post(path: string, headers: Record<string, string>, body: string): Promise<Response> {
  return fetch(`${stack.url}${path}`, { method: 'POST', headers, body });
}

/**
 * Holds the task's first callback wait until the test has sent its forged deliveries (`expire()`
 * then ends it as its timeout would); any later wait ends at once.
 */
function holdFirstCallbackWait(): { waiting: Promise<void>; expire: () => void } {
  let expire: (() => void) | undefined;
  const waiting = new Promise<void>((resolve) => {
    stack.runner.onCallbackWait = (wait) => {
      if (expire) wait.expire();
      else expire = wait.expire;
      resolve();
    };
  });
  return { waiting, expire: () => expire?.() };
}

/** No webhook was taken: every wait timed out, and a poll found the job done. */
async function expectCompletedByPolling(jobId: string): Promise<void> {
  const final = await stack.waitForTask(jobId);
  expect(final.status).toBe('complete');
  const waits = stack.runner.executions.get(jobId)?.callbackWaits ?? [];
  expect(waits.length).toBeGreaterThan(0);
  expect(waits.every((wait) => wait.ended === 'timeout')).toBe(true);
}

describe('Tripo webhooks', () => {
  it('resumes the task by the signed webhook, polls once, and ignores a redelivery', async () => {
    const jobId = await submit('text-to-model', { provider: 'tripo', prompt: 'a lighthouse' });
    const final = await stack.waitForTask(jobId);
    expect(final.status).toBe('complete');
    const execution = stack.runner.executions.get(jobId);
    expect(execution?.callbackWaits.map((wait) => wait.ended)).toEqual(['callback']);
    expect(tripoCalls().filter((call) => call.endpoint === 'GET /v3/tasks/{task_id}')).toHaveLength(1);
    const [delivery] = tripoWebhookDeliveries();
    expect(delivery).toMatchObject({ event: 'task.completed', status: 200 });
    // Tripo delivering the same event again: acknowledged, nothing done.
    const again = await post('/webhooks/tripo', delivery?.headers ?? {}, delivery?.body ?? '');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate' });
  });

  it('refuses a forged delivery with 401; the task still completes by polling', async () => {
    tripoWebhookSettings.deliver = false;
    const held = holdFirstCallbackWait();
    const jobId = await submit('text-to-model', { provider: 'tripo', prompt: 'a teapot' });
    await held.waiting;
    const body = JSON.stringify({ id: 'x:task.completed', type: 'task.completed', data: { task_id: 'x' } });
    const t = Math.floor(Date.now() / 1000);
    const forged = createHmac('sha256', 'whsec_not_the_secret').update(`${t}.${body}`).digest('hex');
    const refused = await post(
      '/webhooks/tripo',
      {
        'content-type': 'application/json',
        'tripo-webhook-signature': `t=${t},v1=${forged}`,
        'tripo-webhook-delivery': 'whd_forged',
        'tripo-webhook-event': 'task.completed',
      },
      body,
    );
    expect(refused.status).toBe(401);
    const unsigned = await post('/webhooks/tripo', { 'content-type': 'application/json' }, body);
    expect(unsigned.status).toBe(401);
    // No webhook comes: the wait times out (ended here rather than after a minute) and a poll finds the job.
    held.expire();
    await expectCompletedByPolling(jobId);
  });

  it('acknowledges events it does not act on with 200', async () => {
    const body = JSON.stringify({
      id: 'b:balance.low',
      type: 'balance.low',
      data: { balance: 3, threshold: 10 },
    });
    const t = Math.floor(Date.now() / 1000);
    const secret = tripoWebhookSettings.target?.secret ?? '';
    const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    const answer = await post(
      '/webhooks/tripo',
      { 'content-type': 'application/json', 'tripo-webhook-signature': `t=${t},v1=${v1}` },
      body,
    );
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'ignored' });
  });
});

describe('BFL webhooks', () => {
  it('sends a per-task webhook_url and secret, resumes by the callback, and ignores a redelivery', async () => {
    const jobId = await submit('image-to-image', {
      provider: 'flux',
      prompt: 'make it a watercolour',
      input_image_asset_url: inputUrl,
    });
    const final = await stack.waitForTask(jobId);
    expect(final.status).toBe('complete');
    expect(stack.runner.executions.get(jobId)?.callbackWaits.map((wait) => wait.ended)).toEqual(['callback']);
    const [delivery] = fluxWebhookDeliveries();
    expect(delivery?.status).toBe(200);
    const path = new URL(delivery?.url ?? 'http://x').pathname;
    expect(path).toMatch(/^\/webhooks\/bfl\/[A-Za-z0-9_-]{40,}$/);
    const again = await post(path, delivery?.headers ?? {}, delivery?.body ?? '');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate' });
  });

  it('refuses a forged signature with 401 and an unknown token with 404; the task completes by polling', async () => {
    fluxSandboxSettings.deliverWebhooks = false;
    const held = holdFirstCallbackWait();
    const jobId = await submit('image-to-image', {
      provider: 'flux',
      prompt: 'make it a watercolour',
      input_image_asset_url: inputUrl,
    });
    await held.waiting;
    const created = (await stack.sandboxRequests('flux')).at(-1);
    const url = String(created?.fields.webhook_url ?? '');
    expect(url).toMatch(/\/webhooks\/bfl\//);
    expect(String(created?.fields.webhook_secret ?? '')).not.toBe('');
    const body = JSON.stringify({ id: 'x', status: 'Ready' });
    const forged = `sha256=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`;
    const path = new URL(url).pathname;
    const refused = await post(path, { 'content-type': 'application/json', 'x-bfl-signature': forged }, body);
    expect(refused.status).toBe(401);
    const unknown = await post('/webhooks/bfl/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', {}, body);
    expect(unknown.status).toBe(404);
    held.expire();
    await expectCompletedByPolling(jobId);
  });
});

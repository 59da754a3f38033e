import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushFluxWebhooks, fluxSimulator, resetFluxSandbox } from '../../infra/local/sandbox/flux.ts';
import { type SandboxSimulator, SandboxState, sandboxContext } from '../../infra/local/sandbox/sandbox.ts';
import {
  flushTripoWebhooks,
  resetTripoSandbox,
  setTripoClockTimeline,
  tripoSandboxSettings,
  tripoSimulator,
  tripoWebhookSettings,
} from '../../infra/local/sandbox/tripo.ts';
import { samplePng } from '../support/local-stack.ts';
import { type RecordingServer, startRecordingServer } from '../support/recording-server.ts';

/**
 * The simulators' webhooks, checked against the providers' published schemes written out here
 * (docs/providers/tripo.md and flux.md, Webhooks), not against the BFF's verifier.
 */

let server: RecordingServer;
let base: string;
let received: RecordingServer['received'];

beforeAll(async () => {
  server = await startRecordingServer(() => ({ body: '{}' }));
  base = server.url;
  received = server.received;
});

afterAll(async () => {
  tripoWebhookSettings.target = undefined;
  resetTripoSandbox();
  resetFluxSandbox();
  await server.close();
});

beforeEach(() => {
  received.length = 0;
  resetTripoSandbox();
  resetFluxSandbox();
});

function call(simulator: SandboxSimulator, path: string, body: unknown, key: string, mount: string) {
  const request = new Request(`http://sandbox${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'x-key': key, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return simulator.handle(request, path, sandboxContext(new SandboxState(), mount));
}

describe('Tripo simulator webhooks', () => {
  it('signs task.completed with t and v1 = HMAC-SHA256(whole secret, "<t>.<body>")', async () => {
    const secret = 'whsec_unit_secret';
    tripoWebhookSettings.target = { url: `${base}/hook`, secret };
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      tripoSandboxSettings.now = () => Date.now();
      setTripoClockTimeline(1, 5);
      const created = await call(
        tripoSimulator,
        '/v3/generation/text-to-model',
        { prompt: 'a cube', model: 'v3.1-20260211' },
        'tsk_sandbox',
        'http://sandbox',
      );
      expect(created.status).toBe(200);
      const taskId = ((await created.json()) as { data: { task_id: string } }).data.task_id;
      await flushTripoWebhooks();
      expect(received).toHaveLength(0);
      vi.setSystemTime(Date.now() + 6_000);
      await flushTripoWebhooks();
      expect(received).toHaveLength(1);
      const [delivery] = received;
      const header = String(delivery?.headers['tripo-webhook-signature']);
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${delivery?.body}`).digest('hex'));
      expect(delivery?.headers['tripo-webhook-event']).toBe('task.completed');
      expect(String(delivery?.headers['tripo-webhook-delivery'])).not.toBe('');
      const body = JSON.parse(delivery?.body ?? '{}') as {
        type: string;
        data: { task_id: string; status: string };
      };
      expect(body).toMatchObject({ type: 'task.completed', data: { task_id: taskId, status: 'success' } });
    } finally {
      vi.useRealTimers();
      tripoWebhookSettings.target = undefined;
    }
  });
});

describe('Flux simulator webhooks', () => {
  it('POSTs to webhook_url with X-BFL-Signature: sha256=HMAC-SHA256(webhook_secret, body), then polls Ready', async () => {
    const png = await samplePng(64, 64);
    const created = await call(
      fluxSimulator,
      '/v1/flux-kontext-pro',
      {
        prompt: 'make it blue',
        input_image: png.toString('base64'),
        webhook_url: `${base}/bfl/abc`,
        webhook_secret: 'per-task-secret',
      },
      'sandbox',
      'http://sandbox',
    );
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    await flushFluxWebhooks();
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(delivery?.path).toBe('/bfl/abc');
    expect(delivery?.headers['x-bfl-signature']).toBe(
      `sha256=${createHmac('sha256', 'per-task-secret')
        .update(delivery?.body ?? '')
        .digest('hex')}`,
    );
    expect(JSON.parse(delivery?.body ?? '{}')).toMatchObject({ id, status: 'Ready' });
  });
});

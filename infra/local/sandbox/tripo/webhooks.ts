import { createHmac, randomUUID } from 'node:crypto';
import { deliverWebhook } from '../webhook-delivery.ts';
import type { Task } from './state.ts';
import { tripoSandboxSettings } from './state.ts';

/**
 * Tripo's webhooks, as the simulator sends them. Sources, checked 2026-12: tryAGI/Tripo
 * (https://github.com/tryAGI/Tripo) README.md and src/libs/Tripo/Extensions/
 * TripoWebhookSignature.cs with its tests. The URL and the `whsec_…` secret are an account
 * setting in Tripo's console (here `tripoWebhookSettings.target`, which the local stack points at
 * its own `/webhooks/tripo`). When a task reaches a terminal state Tripo POSTs
 * `{id: "<task id>:<event>", type, created_at, data: <task detail>}` with the events
 * `task.completed` (success) and `task.failed` (failed, cancelled), and the headers
 * `Tripo-Webhook-Signature: t=<unix seconds>,v1=<hex>` (HMAC-SHA256 keyed with the whole secret
 * over `<t>.<raw body>`), `Tripo-Webhook-Id` (the endpoint), `Tripo-Webhook-Delivery` (unique per
 * delivery) and `Tripo-Webhook-Event`. A non-2xx answer is retried (twice here).
 *
 * With a target set, a task created without a clock timeline follows a short real-time one
 * (`defaultTimeline`), so it ends without being polled; a timer sends its webhook when it ends.
 * Tests that move the clock themselves call `flushTripoWebhooks()` to send what is due now.
 */
export const tripoWebhookSettings: {
  /** Tripo's console setting: where webhooks go and the secret they are signed with. */
  target: { url: string; secret: string } | undefined;
  /** False drops every webhook (a test of the polling fallback). Reset to true by `resetTripoWebhooks`. */
  deliver: boolean;
  /** The real-time timeline tasks get when webhooks are on and no clock timeline is set. */
  defaultTimeline: { queuedMs: number; runningMs: number };
} = { target: undefined, deliver: true, defaultTimeline: { queuedMs: 1000, runningMs: 3000 } };

export interface TripoWebhookDelivery {
  taskId: string;
  event: string;
  /** The request as sent, so a test can send it again (a redelivery). */
  headers: Record<string, string>;
  body: string;
  /** The answer's status (0 when the request failed). */
  status: number;
}

const pending = new Map<string, { task: Task; timer?: NodeJS.Timeout }>();
const deliveries: TripoWebhookDelivery[] = [];
const ENDPOINT_ID = 'we_sandbox';

/** Every webhook sent since the last reset, oldest first. */
export function tripoWebhookDeliveries(): readonly TripoWebhookDelivery[] {
  return [...deliveries];
}

export function resetTripoWebhooks(): void {
  for (const entry of pending.values()) clearTimeout(entry.timer);
  pending.clear();
  deliveries.length = 0;
  tripoWebhookSettings.deliver = true;
}

/** The timeline a new task gets when webhooks are on (it must end without polls). */
export function webhookClock(): Task['clock'] {
  return tripoWebhookSettings.target ? tripoWebhookSettings.defaultTimeline : undefined;
}

/** When (ms on the simulator clock) a clock task reports its outcome, or undefined if never. */
function endsAt(task: Task): number | undefined {
  if (!task.clock || !task.outcome.terminal) return undefined;
  const { queuedMs, runningMs } = task.clock;
  switch (task.outcome.when) {
    case 'after-queue':
      return task.createdAt + queuedMs;
    case 'mid-run':
      return task.createdAt + queuedMs + Math.ceil(runningMs / 2);
    case 'after-run':
      return task.createdAt + queuedMs + runningMs;
    case 'never':
      return undefined;
  }
}

/** Called for each created task: its webhook is sent once it ends. */
export function watchTask(task: Task): void {
  if (!tripoWebhookSettings.target) return;
  const end = endsAt(task);
  if (end === undefined) return;
  const entry: { task: Task; timer?: NodeJS.Timeout } = { task };
  pending.set(task.id, entry);
  entry.timer = setTimeout(
    () => void flushTripoWebhooks(),
    Math.max(0, end - tripoSandboxSettings.now()) + 5,
  );
  entry.timer.unref();
}

/** When (simulator clock, ms) the next watched task ends, if any: tests move their clock there. */
export function nextTripoWebhookAt(): number | undefined {
  const ends = [...pending.values()].map(({ task }) => endsAt(task) ?? Number.POSITIVE_INFINITY);
  const first = Math.min(...ends);
  return Number.isFinite(first) ? first : undefined;
}

/** Sends the webhook of every watched task that has ended by the simulator's clock now. */
export async function flushTripoWebhooks(): Promise<void> {
  const now = tripoSandboxSettings.now();
  const due = [...pending.values()].filter(({ task }) => (endsAt(task) ?? Number.POSITIVE_INFINITY) <= now);
  for (const entry of due) {
    clearTimeout(entry.timer);
    pending.delete(entry.task.id);
  }
  await Promise.all(due.map(({ task }) => send(task)));
}

async function send(task: Task): Promise<void> {
  const target = tripoWebhookSettings.target;
  if (!target || !tripoWebhookSettings.deliver) return;
  const succeeded = task.outcome.status === 'success';
  const event = succeeded ? 'task.completed' : 'task.failed';
  const completedAt = new Date(endsAt(task) ?? tripoSandboxSettings.now()).toISOString();
  const data: Record<string, unknown> = {
    task_id: task.id,
    type: task.type,
    status: task.outcome.status,
    progress: succeeded ? 100 : task.lastProgress,
    created_at: new Date(task.createdAt).toISOString(),
    completed_at: completedAt,
  };
  if (task.outcome.errorCode !== undefined) data.error_code = task.outcome.errorCode;
  if (task.outcome.errorMessage !== undefined) data.error_message = task.outcome.errorMessage;
  const body = JSON.stringify({ id: `${task.id}:${event}`, type: event, created_at: completedAt, data });
  const t = String(Math.floor(tripoSandboxSettings.now() / 1000));
  const v1 = createHmac('sha256', target.secret).update(`${t}.${body}`).digest('hex');
  const headers = {
    'content-type': 'application/json',
    'tripo-webhook-signature': `t=${t},v1=${v1}`,
    'tripo-webhook-id': ENDPOINT_ID,
    'tripo-webhook-delivery': `whd_${randomUUID()}`,
    'tripo-webhook-event': event,
  };
  const record: TripoWebhookDelivery = { taskId: task.id, event, headers, body, status: 0 };
  deliveries.push(record);
  await deliverWebhook(target.url, headers, body, record);
}

import { logger } from '../logger.ts';
import { tripoWebhook } from '../providers/tripo/settings.ts';
import { tripoWebhookSecrets } from './callback-setup.ts';
import { claimDelivery, findTaskLink, releaseDelivery } from './callback-store.ts';
import { resumeByCallback } from './resume.ts';
import { verifyBflSignature, verifyTripoSignature } from './signature.ts';

/**
 * What the webhook routes do with a delivery (docs/api.md, Webhooks). A webhook only wakes the
 * task's execution, which then polls the provider for the authoritative status: nothing in its
 * body is trusted beyond the id that finds the task. Answers are quick and 2xx for anything the
 * provider should not send again (unknown events, unknown tasks, duplicates); 401 for a delivery
 * that fails verification.
 */

export interface WebhookAnswer {
  statusCode: number;
  body: Record<string, unknown>;
}

const unauthorized = (reason: string): WebhookAnswer => {
  logger.warn('Webhook refused', { reason });
  return { statusCode: 401, body: { detail: 'Invalid webhook signature' } };
};

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** POST /webhooks/tripo: signed with the account's `whsec_…` secret; de-duplicated per delivery. */
export async function handleTripoWebhook(
  raw: Buffer,
  headers: Record<string, string | undefined>,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<WebhookAnswer> {
  const secrets = await tripoWebhookSecrets();
  if (secrets.length === 0) return unauthorized('TRIPO_WEBHOOK_SECRET is not set');
  const check = verifyTripoSignature(headers[tripoWebhook.signatureHeader], raw, secrets, nowSeconds);
  if (!check.ok) return unauthorized(check.reason);
  const body = parseJson(raw) as { type?: unknown; data?: { task_id?: unknown } } | undefined;
  const event = typeof body?.type === 'string' ? body.type : headers[tripoWebhook.eventHeader];
  const taskId = body?.data?.task_id;
  if (
    !event ||
    !(tripoWebhook.taskEvents as readonly string[]).includes(event) ||
    typeof taskId !== 'string'
  ) {
    logger.info('Tripo webhook ignored', { event });
    return { statusCode: 200, body: { status: 'ignored' } };
  }
  const delivery = headers[tripoWebhook.deliveryHeader];
  if (delivery && !(await claimDelivery('tripo', delivery))) {
    logger.info('Tripo webhook delivered again: ignored', { event, delivery });
    return { statusCode: 200, body: { status: 'duplicate' } };
  }
  try {
    const link = await findTaskLink('tripo', taskId);
    if (!link) {
      logger.info('Tripo webhook for a job this service does not know: ignored', { event });
      return { statusCode: 200, body: { status: 'ignored' } };
    }
    const outcome = await resumeByCallback(link, 'tripo');
    logger.info('Tripo webhook taken', { event, outcome, tenant_id: link.tenant_id, job_id: link.job_id });
    return { statusCode: 200, body: { status: outcome } };
  } catch (error) {
    // Not taken: Tripo's redelivery must not be ignored as a duplicate.
    if (delivery) await releaseDelivery('tripo', delivery).catch(() => undefined);
    throw error;
  }
}

/**
 * POST /webhooks/bfl/{token}: the unguessable per-task token in the URL finds the task; a
 * signature, when sent, must match the secret sent with that task's create (its format is not
 * confirmed, docs/providers/flux.md). The first delivery per task is taken, later ones ignored.
 */
export async function handleBflWebhook(
  token: string,
  raw: Buffer,
  headers: Record<string, string | undefined>,
): Promise<WebhookAnswer> {
  const link = /^[A-Za-z0-9_-]{20,100}$/.test(token) ? await findTaskLink('bfl', token) : undefined;
  if (!link) return { statusCode: 404, body: { detail: 'Not found' } };
  const signature = headers['x-bfl-signature'];
  if (signature !== undefined) {
    const check = verifyBflSignature(signature, raw, link.secret ?? '');
    if (!check.ok) return unauthorized(check.reason);
  }
  if (!(await claimDelivery('bfl', token))) {
    logger.info('BFL webhook delivered again: ignored');
    return { statusCode: 200, body: { status: 'duplicate' } };
  }
  try {
    const outcome = await resumeByCallback(link, 'flux');
    logger.info('BFL webhook taken', {
      outcome,
      signed: signature !== undefined,
      tenant_id: link.tenant_id,
      job_id: link.job_id,
    });
    return { statusCode: 200, body: { status: outcome } };
  } catch (error) {
    await releaseDelivery('bfl', token).catch(() => undefined);
    throw error;
  }
}

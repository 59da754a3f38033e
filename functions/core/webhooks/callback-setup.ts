import { randomBytes } from 'node:crypto';
import { getSecret } from '../config.ts';
import { tripoWebhook } from '../providers/tripo/settings.ts';
import type { TaskRef } from '../tasks/task.ts';
import { putTaskLink } from './callback-store.ts';
import { CALLBACK_PROVIDERS, webhookBaseUrl } from './settings.ts';

/** What the submit step does for a job whose provider will call back. */
export interface CallbackSetup {
  /** Sent with the create (BFL): the per-task URL and the secret the callback is signed with. */
  webhook?: { url: string; secret: string };
  /** Makes the job findable by its webhook; true when the execution should wait for one. */
  link(providerJobId: string): Promise<boolean>;
}

/** The secrets TRIPO_WEBHOOK_SECRET holds (one, or two while rotating), or none. */
export async function tripoWebhookSecrets(): Promise<string[]> {
  const value = await getSecret(tripoWebhook.secretEnv);
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}

/**
 * Whether this task's job will be finished by a webhook (docs/api.md, Webhooks): only with
 * WEBHOOK_BASE_URL set, for a provider that calls back, and for Tripo only with its webhook
 * secret set (the console registration that comes with it is the operator's part). Otherwise
 * undefined: the job is polled exactly as before.
 */
export async function callbackSetup(task: TaskRef): Promise<CallbackSetup | undefined> {
  const base = webhookBaseUrl();
  const kind = CALLBACK_PROVIDERS[task.provider];
  if (!base || !kind) return undefined;
  const ref = { tenant_id: task.tenant_id, job_id: task.job_id };
  if (task.provider === 'tripo') {
    if ((await tripoWebhookSecrets()).length === 0) return undefined;
    return {
      link: async (providerJobId) => {
        await putTaskLink('tripo', providerJobId, ref);
        return true;
      },
    };
  }
  // BFL: an unguessable token names the task in the URL, and a fresh secret signs its callback.
  // The link is written before the create, so even an instant callback finds the task.
  const token = randomBytes(32).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  await putTaskLink('bfl', token, { ...ref, secret });
  return {
    webhook: { url: `${base}/webhooks/bfl/${token}`, secret },
    link: async () => true,
  };
}

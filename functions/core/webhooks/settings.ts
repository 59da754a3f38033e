/**
 * Where providers call back (docs/api.md, Webhooks): WEBHOOK_BASE_URL is the API's own public
 * URL (the CDK sets it on the submit step); unset, every asynchronous job is polled as before.
 * Read from the environment on each use (cheap), so tests and the local host can change it.
 */
export function webhookBaseUrl(): string | undefined {
  const raw = process.env.WEBHOOK_BASE_URL?.trim();
  if (!raw) return undefined;
  if (!URL.canParse(raw) || !/^https?:\/\//i.test(raw))
    throw new Error('Invalid configuration: WEBHOOK_BASE_URL must be an http(s) URL');
  return raw.replace(/\/+$/, '');
}

/**
 * How each provider learns where to call back: Tripo from the URL registered in its console (one
 * per account), BFL from `webhook_url` on each create. A provider not listed is only polled.
 */
export const CALLBACK_PROVIDERS: Readonly<Record<string, 'console' | 'per-request'>> = {
  tripo: 'console',
  flux: 'per-request',
};

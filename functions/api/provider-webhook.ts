import { json, MAX_BODY_BYTES, plainHandler } from '../core/plain-http.ts';
import { handleBflWebhook, handleTripoWebhook } from '../core/webhooks/provider-webhooks.ts';

/**
 * POST /webhooks/tripo and POST /webhooks/bfl/{token}: providers' job-finished callbacks (no API
 * key: docs/api.md, Webhooks). Each is verified, then wakes the task's execution, which polls.
 */
export const handler = plainHandler(async (event, headers) => {
  const raw =
    event.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES)
    return json(413, { detail: 'Request body must not exceed 1 MiB' }, headers);
  const lowered: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) lowered[name.toLowerCase()] = value;
  const token = event.pathParameters?.token;
  const answer =
    token !== undefined
      ? await handleBflWebhook(token, raw, lowered)
      : await handleTripoWebhook(raw, lowered);
  return json(answer.statusCode, answer.body, headers);
});

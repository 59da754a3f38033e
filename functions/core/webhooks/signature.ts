import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signature checks (docs/api.md, Webhooks). Pure functions over the raw body bytes: a
 * body re-serialised from parsed JSON would not match what the sender signed.
 */

/** Tripo rejects nothing older: a delivery whose `t` is further than this from now is refused. */
export const TRIPO_SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

function hmacHex(secret: string, ...parts: (string | Buffer)[]): string {
  const hmac = createHmac('sha256', secret);
  for (const part of parts) hmac.update(part);
  return hmac.digest('hex');
}

/** Constant-time comparison of two hex digests (different lengths compare unequal). */
function sameHex(expected: string, given: string): boolean {
  if (!/^[0-9a-f]+$/i.test(given)) return false;
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given.toLowerCase(), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Tripo's `Tripo-Webhook-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256, keyed
 * with the whole `whsec_…` secret, over `<t>.<raw body>`; valid when any `v1` matches (Tripo signs
 * with both secrets while one is being rotated) and `t` is within five minutes of now.
 * `secrets`: every secret currently accepted (normally one).
 */
export function verifyTripoSignature(
  header: string | undefined,
  rawBody: Buffer,
  secrets: readonly string[],
  nowSeconds: number,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Tripo-Webhook-Signature header' };
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    const key = part.slice(0, index).trim();
    const value = part.slice(index + 1).trim();
    if (key === 't') timestamp = value;
    else if (key === 'v1' && value) signatures.push(value);
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: 'signature header has no valid t' };
  if (signatures.length === 0) return { ok: false, reason: 'signature header has no v1' };
  if (Math.abs(nowSeconds - Number(timestamp)) > TRIPO_SIGNATURE_TOLERANCE_SECONDS)
    return { ok: false, reason: 'signature timestamp outside the 300 s tolerance' };
  const usable = secrets.filter((secret) => secret.trim() !== '');
  if (usable.length === 0) return { ok: false, reason: 'no webhook secret configured' };
  for (const secret of usable) {
    const expected = hmacHex(secret, timestamp, '.', rawBody);
    // Every v1 is compared, whatever matched first, so timing says nothing about which one did.
    let matched = false;
    for (const given of signatures) matched = sameHex(expected, given) || matched;
    if (matched) return { ok: true };
  }
  return { ok: false, reason: 'no v1 signature matches' };
}

/**
 * BFL's `X-BFL-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body keyed with the request's
 * `webhook_secret` (not confirmed: docs/providers/flux.md, Not confirmed). No timestamp is
 * documented, so replays are bounded by the per-task URL instead (provider-webhooks.ts).
 */
export function verifyBflSignature(
  header: string | undefined,
  rawBody: Buffer,
  secret: string,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing X-BFL-Signature header' };
  const value = header.trim();
  if (!value.startsWith('sha256=')) return { ok: false, reason: 'signature is not sha256=<hex>' };
  return sameHex(hmacHex(secret, rawBody), value.slice('sha256='.length))
    ? { ok: true }
    : { ok: false, reason: 'signature does not match' };
}

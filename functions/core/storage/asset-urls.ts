import { getConfig, required, requireSecret } from '../config.ts';

/**
 * The URL a client downloads a stored result from: public, or signed at read time for a private
 * bucket. Both are built without supabase-js, so the status function (which only reads URLs)
 * does not carry the client (≈ 220 KiB of its bundle; test/infra/bundle-budgets.test.ts):
 *
 * - public: `<project>/storage/v1/object/public/<bucket>/<path>`, as supabase-js `getPublicUrl`
 *   builds it, with no network call;
 * - private: Supabase Storage's sign endpoint, the request supabase-js `createSignedUrl` sends
 *   (`POST /storage/v1/object/sign/<bucket>/<path>` with `{"expiresIn"}` and the service key as
 *   `Authorization: Bearer` and `apikey`; the answer's `signedURL` is relative to
 *   `/storage/v1`; @supabase/storage-js 2.119 `createSignedUrl`, read 2026-12-02).
 */

const SIGN_TIMEOUT_MS = 10_000;

function storageBase(): string {
  return `${required(getConfig().SUPABASE_URL, 'SUPABASE_URL').replace(/\/+$/, '')}/storage/v1`;
}

export async function assetUrl(path: string): Promise<string> {
  const config = getConfig();
  const base = storageBase();
  if (config.SUPABASE_BUCKET_PUBLIC) {
    return encodeURI(`${base}/object/public/${config.SUPABASE_BUCKET}/${path}`);
  }
  const key = await requireSecret('SUPABASE_SERVICE_KEY');
  let response: Response;
  try {
    response = await fetch(`${base}/object/sign/${config.SUPABASE_BUCKET}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, apikey: key, 'content-type': 'application/json' },
      body: JSON.stringify({ expiresIn: config.SUPABASE_SIGNED_URL_TTL_SECONDS }),
      signal: AbortSignal.timeout(SIGN_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(`Could not sign the result URL: ${(error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  let signed: unknown;
  try {
    signed = (JSON.parse(text) as { signedURL?: unknown }).signedURL;
  } catch {
    signed = undefined;
  }
  if (!response.ok || typeof signed !== 'string') {
    throw new Error(`Could not sign the result URL: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  return encodeURI(`${base}${signed}`);
}

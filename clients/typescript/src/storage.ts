import { apiError, MakeIt3DError, MakeIt3DNetworkError } from './errors.ts';

/**
 * Uploading an input to Supabase Storage before naming it in a request, as an app does (docs/api.md,
 * Generation requests: inputs are Supabase Storage object URLs of the configured project):
 * `POST <SUPABASE_URL>/storage/v1/object/<bucket>/<path>` with the project's anon key as `apikey`
 * and a bearer token (a signed-in user's access token, or the anon key), then the object's public
 * URL. The bucket must let that token insert objects (a Storage policy) and be public for the
 * returned URL to be readable by the API. The local stack serves these routes at its own URL
 * and takes any bearer token.
 */

export interface StorageOptions {
  /** The Supabase project URL (locally: the stack's URL). */
  supabaseUrl: string;
  /** The project's anon (publishable) key, sent as `apikey`. */
  anonKey?: string;
  /** A signed-in user's access token; the bearer token when given, else the anon key. */
  accessToken?: string;
  /** Default `makeit3d-app-assets`. */
  bucket?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export const DEFAULT_BUCKET = 'makeit3d-app-assets';

/** Uploads `bytes` to `path` in the bucket (overwriting) and returns the object's public URL. */
export async function uploadToStorage(
  options: StorageOptions,
  path: string,
  bytes: Uint8Array,
  contentType: string,
): Promise<string> {
  const base = options.supabaseUrl.replace(/\/+$/, '');
  const bucket = options.bucket ?? DEFAULT_BUCKET;
  const objectPath = path
    .split('/')
    .filter(Boolean)
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const token = options.accessToken ?? options.anonKey ?? 'anon';
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': contentType,
    'x-upsert': 'true',
  };
  if (options.anonKey !== undefined) headers.apikey = options.anonKey;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = `${base}/storage/v1/object/${encodeURIComponent(bucket)}/${objectPath}`;
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers,
      body: bytes as Uint8Array<ArrayBuffer>,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new MakeIt3DNetworkError(
      `Could not reach Supabase Storage at ${base}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    const error = apiError(response.status, body, response.headers);
    // Supabase Storage's error body is {statusCode, error, message}.
    throw error.detail.startsWith('HTTP ')
      ? new MakeIt3DError(`Upload to Supabase Storage failed: HTTP ${response.status} ${text}`, {
          status: response.status,
        })
      : error;
  }
  return `${base}/storage/v1/object/public/${encodeURIComponent(bucket)}/${objectPath}`;
}

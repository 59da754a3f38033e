import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { getConfig, required, requireSecret } from '../config.ts';

let cached: { url: string; key: string; client: SupabaseClient } | undefined;

/**
 * supabase-js sets no time limit of its own, so a hung upload would wait for the step's Lambda
 * timeout instead of failing as a transient error that storeFiles retries (workflow/store-results.ts). Two minutes
 * covers the largest result (100 MiB) on a slow link.
 */
const REQUEST_TIMEOUT_MS = 120_000;

const fetchWithTimeout: typeof fetch = (input, init) => {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
};

/**
 * The supabase-js client with the service key (server-side only), rebuilt when the key changes:
 * secrets are re-read after their TTL (config.ts), so a rotated key is used within minutes.
 */
export async function supabaseClient(): Promise<SupabaseClient> {
  const url = required(getConfig().SUPABASE_URL, 'SUPABASE_URL');
  const key = await requireSecret('SUPABASE_SERVICE_KEY');
  if (cached?.url === url && cached.key === key) return cached.client;
  const client = createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: fetchWithTimeout },
  });
  cached = { url, key, client };
  return client;
}

export function resetSupabaseClient(): void {
  cached = undefined;
}

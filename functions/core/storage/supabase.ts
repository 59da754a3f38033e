import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { getConfig, required, requireSecret } from '../config.ts';

let client: Promise<SupabaseClient> | undefined;

/**
 * supabase-js sets no time limit of its own, so a hung upload would wait for the step's Lambda
 * timeout instead of failing as a transient error that storeFiles retries (steps.ts). Two minutes
 * covers the largest result (100 MiB) on a slow link.
 */
const REQUEST_TIMEOUT_MS = 120_000;

const fetchWithTimeout: typeof fetch = (input, init) => {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
};

/** One supabase-js client per cold start, with the service key (server-side only). */
export function supabaseClient(): Promise<SupabaseClient> {
  client ??= (async () => {
    const url = required(getConfig().SUPABASE_URL, 'SUPABASE_URL');
    const serviceKey = await requireSecret('SUPABASE_SERVICE_KEY');
    return createClient(url, serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: fetchWithTimeout },
    });
  })();
  client.catch(() => {
    client = undefined;
  });
  return client;
}

export function resetSupabaseClient(): void {
  client = undefined;
}

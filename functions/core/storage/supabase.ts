import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { getConfig, required, requireSecret } from '../config.ts';

let client: Promise<SupabaseClient> | undefined;

/** One supabase-js client per cold start, with the service key (server-side only). */
export function supabaseClient(): Promise<SupabaseClient> {
  client ??= (async () => {
    const url = required(getConfig().SUPABASE_URL, 'SUPABASE_URL');
    const serviceKey = await requireSecret('SUPABASE_SERVICE_KEY');
    return createClient(url, serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
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

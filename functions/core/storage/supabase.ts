import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { fetchWithTimeout, perConnection } from './supabase-connection.ts';

/** The supabase-js client with the service key, for Storage (asset-storage.ts). */
// Pure: a bundle that never calls it leaves supabase-js out (esbuild keeps top-level calls otherwise).
export const supabaseClient: () => Promise<SupabaseClient> = /* @__PURE__ */ perConnection((url, key) =>
  createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: fetchWithTimeout },
  }),
);

import { PostgrestClient } from '@supabase/postgrest-js';
import { fetchWithTimeout, perConnection } from './supabase-connection.ts';

/**
 * The client for the result rows (result-rows.ts): supabase-js's own PostgREST client, which
 * `createClient(url, key).from(table)` uses, with the headers supabase-js gives it (the key as
 * `apikey` and as the bearer token). Only this part of supabase-js is loaded where rows are all
 * a function writes: submit-generation mirrors each new task as a pending row, and loading the
 * whole supabase-js (auth, realtime, storage) took ≈ 14 ms more to load (README, Benchmarks).
 */
// Pure: a bundle that never calls it leaves the client out (esbuild keeps top-level calls otherwise).
export const supabaseRows: () => Promise<PostgrestClient> = /* @__PURE__ */ perConnection(
  (url, key) =>
    new PostgrestClient(`${url.replace(/\/+$/, '')}/rest/v1`, {
      headers: { apikey: key, Authorization: `Bearer ${key}` },
      fetch: fetchWithTimeout,
    }),
);

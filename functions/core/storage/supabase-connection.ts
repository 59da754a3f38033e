import { getConfig, required, requireSecret } from '../config.ts';

/**
 * The Supabase project this stage talks to (SUPABASE_URL) and its service key (server-side
 * only), shared by the Storage client (supabase.ts) and the rows client (supabase-rows.ts).
 */

/**
 * supabase-js sets no time limit of its own, so a hung upload would wait for the step's Lambda
 * timeout instead of failing as a transient error that storeFiles retries (workflow/store-results.ts). Two minutes
 * covers the largest result (100 MiB) on a slow link.
 */
const REQUEST_TIMEOUT_MS = 120_000;

export const fetchWithTimeout: typeof fetch = (input, init) => {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
};

/** Bumped by `resetSupabaseClients`: every client built before is built again. */
let generation = 0;

/**
 * A client for the project, built by `build` and kept while the URL and key stay the same: the
 * key is re-read after its TTL (config.ts), so a rotated key is used within minutes.
 */
export function perConnection<T>(build: (url: string, key: string) => T): () => Promise<T> {
  let cached: { url: string; key: string; generation: number; client: T } | undefined;
  return async () => {
    const url = required(getConfig().SUPABASE_URL, 'SUPABASE_URL');
    const key = await requireSecret('SUPABASE_SERVICE_KEY');
    if (cached?.url === url && cached.key === key && cached.generation === generation) return cached.client;
    const client = build(url, key);
    cached = { url, key, generation, client };
    return client;
  };
}

/** Forgets every client (the local host points the functions at a new project). */
export function resetSupabaseClients(): void {
  generation += 1;
}

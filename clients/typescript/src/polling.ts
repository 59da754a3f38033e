/**
 * How often waitForResult reads a task's status when the caller gives no interval: the MakeIt3D
 * API guide's provider-aware polling advice ("Polling Strategy with Provider Awareness"): a base
 * of 1 s, 3 s for Tripo (whose models take minutes), doubled for each of the first three reads,
 * then five times the base. 3D operations use the slow base whatever the provider (Stability's
 * SPAR3D takes one to three minutes too). clients/typescript/README.md, "Polling", lists it.
 */

const FAST_BASE_MS = 1_000;
const SLOW_BASE_MS = 3_000;
const MODEL_OPERATIONS: readonly string[] = ['text-to-model', 'image-to-model', 'refine-model'];

/** The wait before status read number `attempt` + 1 (attempt counts from 0). */
export function defaultPollDelayMs(
  attempt: number,
  task: { provider?: string | undefined; operation?: string | undefined },
): number {
  const slow = task.provider === 'tripo' || MODEL_OPERATIONS.includes(task.operation ?? '');
  const base = slow ? SLOW_BASE_MS : FAST_BASE_MS;
  return attempt < 3 ? 2 ** attempt * base : 5 * base;
}

/**
 * How long waitForResult waits in all when the caller gives no timeout: past the service's own
 * deadlines (docs/api.md, Task status: Tripo 30 minutes, Flux 10), so a task normally ends
 * `failed` with its own error before the client gives up.
 */
export function defaultTimeoutMs(task: {
  provider?: string | undefined;
  operation?: string | undefined;
}): number {
  const slow = task.provider === 'tripo' || MODEL_OPERATIONS.includes(task.operation ?? '');
  return (slow ? 35 : 15) * 60_000;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

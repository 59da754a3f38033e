import type { ProviderOperation } from './provider-operation.ts';
import { operationRequest, providersOf, servedOperations } from './request-catalogue.ts';

/**
 * A runnable catalogue: provider entries with the code that runs them, keyed by operation and
 * provider. Each workflow function builds one from only the providers it can run (sync-catalogue.ts
 * for RunProvider, async-catalogue.ts for SubmitProviderJob and PollProviderJob), so its bundle
 * carries no other provider's client. `covers` says which entries of the request catalogue
 * (request-catalogue.ts) this one must hold; the two are compared when the module loads, so a
 * provider added to the request side but not here fails at once rather than on its first task.
 */
export interface RunnableCatalogue {
  entry(operation: string, provider: string): ProviderOperation;
  keys(): string[];
}

export function runnableCatalogue(
  name: string,
  groups: Partial<Record<string, ProviderOperation>>[],
  covers: (request: ReturnType<typeof operationRequest>) => boolean,
): RunnableCatalogue {
  const entries = new Map<string, ProviderOperation>();
  for (const group of groups) {
    for (const [operation, entry] of Object.entries(group)) {
      if (entry) entries.set(`${operation}/${entry.provider}`, entry);
    }
  }
  const expected = servedOperations().flatMap((operation) =>
    providersOf(operation)
      .filter((provider) => covers(operationRequest(operation, provider)))
      .map((provider) => `${operation}/${provider}`),
  );
  const held = [...entries.keys()];
  if (held.sort().join() !== expected.sort().join()) {
    throw new Error(
      `The ${name} catalogue and request-catalogue.ts disagree: runnable ${held.join(', ')}; requested ${expected.join(', ')}`,
    );
  }
  return {
    entry(operation, provider) {
      const entry = entries.get(`${operation}/${provider}`);
      if (!entry) throw new Error(`No ${name} catalogue entry for ${operation} with provider ${provider}`);
      return entry;
    },
    keys: () => held,
  };
}

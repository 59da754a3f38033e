import { fluxOperations } from '../providers/flux/operations.ts';
import { openaiOperations } from '../providers/openai/operations.ts';
import { recraftOperations } from '../providers/recraft/operations.ts';
import { stabilityOperations } from '../providers/stability/operations.ts';
import { tripoOperations } from '../providers/tripo/operations.ts';
import { downscaleOperation } from './downscale.ts';
import type { ProviderOperation } from './provider-operation.ts';
import { providersOf, servedOperations } from './request-catalogue.ts';

export {
  ALL_OPERATIONS,
  findOperation,
  type OperationName,
  providersOf,
  selectProvider,
  servedOperations,
} from './request-catalogue.ts';

/**
 * The runnable side of the operation catalogue, for the workflow functions: each provider's
 * entries with the code that runs them. The request side (schemas, for the submit handler) is
 * request-catalogue.ts; every entry here spreads its provider's request, and the two must list
 * the same operations and providers (checked when this module loads).
 */

const PROVIDER_OPERATIONS: Partial<Record<string, ProviderOperation>>[] = [
  openaiOperations,
  stabilityOperations,
  recraftOperations,
  fluxOperations,
  tripoOperations,
  { downscale: downscaleOperation },
];

const catalogue = new Map<string, Map<string, ProviderOperation>>();
for (const group of PROVIDER_OPERATIONS) {
  for (const [operation, entry] of Object.entries(group)) {
    if (!entry) continue;
    const providers = catalogue.get(operation) ?? new Map<string, ProviderOperation>();
    providers.set(entry.provider, entry);
    catalogue.set(operation, providers);
  }
}

const runnable = [...catalogue].flatMap(([operation, providers]) =>
  [...providers.keys()].map((provider) => `${operation}/${provider}`),
);
const requested = servedOperations().flatMap((operation) =>
  providersOf(operation).map((provider) => `${operation}/${provider}`),
);
if (runnable.sort().join() !== requested.sort().join()) {
  throw new Error(
    `The operation catalogue and request-catalogue.ts disagree: runnable ${runnable.join(', ')}; requested ${requested.join(', ')}`,
  );
}

/** Looks up the entry a workflow step runs (already validated at submit). */
export function operationEntry(operation: string, provider: string): ProviderOperation {
  const entry = catalogue.get(operation)?.get(provider);
  if (!entry) throw new Error(`No catalogue entry for ${operation} with provider ${provider}`);
  return entry;
}

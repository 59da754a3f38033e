import type { ProviderOperation } from '../../operations/provider-operation.ts';

/** stability operations: filled in by the stability adapter work (see the openai folder for the pattern). */
export const stabilityOperations: Record<string, ProviderOperation> = {};

import type { ProviderOperation } from '../../operations/provider-operation.ts';

/** recraft operations: filled in by the recraft adapter work (see the openai folder for the pattern). */
export const recraftOperations: Record<string, ProviderOperation> = {};

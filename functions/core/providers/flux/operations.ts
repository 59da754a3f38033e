import type { ProviderOperation } from '../../operations/provider-operation.ts';

/** flux operations: filled in by the flux adapter work (see the openai folder for the pattern). */
export const fluxOperations: Record<string, ProviderOperation> = {};

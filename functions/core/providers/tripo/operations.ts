import type { ProviderOperation } from '../../operations/provider-operation.ts';

/** tripo operations: filled in by the Tripo adapter work (see the flux folder for an asynchronous provider). */
export const tripoOperations: Record<string, ProviderOperation> = {};

import { fluxOperations } from '../providers/flux/operations.ts';
import { openaiOperations } from '../providers/openai/operations.ts';
import { recraftOperations } from '../providers/recraft/operations.ts';
import { stabilityOperations } from '../providers/stability/operations.ts';
import { tripoOperations } from '../providers/tripo/operations.ts';
import { downscaleOperation } from './downscale.ts';
import type { ProviderOperation } from './provider-operation.ts';
import { runnableCatalogue } from './runnable.ts';

export {
  ALL_OPERATIONS,
  findOperation,
  type OperationName,
  providersOf,
  selectProvider,
  servedOperations,
} from './request-catalogue.ts';

/**
 * The whole runnable side of the operation catalogue: every provider's entries with the code that
 * runs them (tests and tools read it). Workflow functions load only the part they run:
 * sync-catalogue.ts (RunProvider), async-catalogue.ts (SubmitProviderJob, PollProviderJob) and
 * functions/core/workflow/process-image.ts (ProcessImage); each checks its part against
 * request-catalogue.ts, and this one checks the whole.
 */
const whole = runnableCatalogue(
  'runnable',
  [
    openaiOperations,
    stabilityOperations,
    recraftOperations,
    fluxOperations,
    tripoOperations,
    { downscale: downscaleOperation },
  ],
  () => true,
);

/** Looks up the entry a workflow step runs (already validated at submit). */
export function operationEntry(operation: string, provider: string): ProviderOperation {
  return whole.entry(operation, provider);
}

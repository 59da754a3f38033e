import { fluxOperations } from '../providers/flux/operations.ts';
import { tripoOperations } from '../providers/tripo/operations.ts';
import { runnableCatalogue } from './runnable.ts';

/**
 * The operations SubmitProviderJob and PollProviderJob run: providers that take a job and are
 * polled (or call back) until it ends. Synchronous providers are in sync-catalogue.ts, so these
 * bundles carry no OpenAI, Stability or Recraft client.
 */
export const asyncCatalogue = runnableCatalogue(
  'asynchronous',
  [fluxOperations, tripoOperations],
  (request) => request.mode === 'async',
);

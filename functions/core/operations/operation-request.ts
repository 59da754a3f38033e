import type { ProviderOperation } from './provider-operation.ts';

/**
 * What the submit path needs of one operation as served by one provider: the request schema and
 * the facts about the task it starts, without the code that runs it. Each provider's
 * `schemas.ts` (tripo: `requests.ts`) exports these, and its `operations.ts` spreads them into
 * the runnable entry, so the submit bundle never loads a provider client, an SDK or an image
 * codec (test/infra/bundle-budgets.test.ts). The workflow states that only record a task's
 * progress (MarkTaskProcessing, CompleteTask, FailTask, RecordResultRows, the reconcilers) read
 * these facts too, so their bundles carry no run code either: `mode` and `runsOn` live here.
 */
export type OperationRequest = Pick<
  ProviderOperation,
  'provider' | 'schema' | 'inputFields' | 'resultKind' | 'reportsProgress' | 'mode'
> & {
  /** 'image-processing': runs in the image Lambda (more memory, no provider) instead of RunProvider. */
  readonly runsOn?: 'provider' | 'image-processing';
};

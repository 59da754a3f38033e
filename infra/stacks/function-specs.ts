import type { ApiFunctionName } from '../../functions/api/routes.ts';
import type { WorkflowFunctionName } from '../../functions/workflow/index.ts';
import { PROVIDER_SECRET_NAMES, type SecretName } from '../constructs/bff-secrets.ts';

export type DynamoAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query';
export type StateMachineAction = 'StartExecution' | 'DescribeExecution' | 'SendTaskSuccess';

/**
 * What each Lambda may touch, in one table: the stack derives grants and environment from it,
 * so least privilege is reviewed here rather than spread over the stack. Keyed by the names in
 * functions/, so a new handler does not compile until it has an entry.
 */
export interface FunctionSpec {
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
  /**
   * The DynamoDB actions its code sends, each granted on the table alone (no index, no `*`);
   * `Query` is granted on the `unfinished` index only (no code queries the base table). The
   * local host's Scan (task-repository `listUnfinished`) runs in no Lambda and is granted to none.
   */
  dynamo?: readonly DynamoAction[];
  /**
   * Step Functions actions on the generation workflow: StartExecution on the state machine,
   * DescribeExecution on its executions, SendTaskSuccess (resuming a task-token wait) on the
   * state machine (also gives STATE_MACHINE_ARN).
   */
  stateMachine?: readonly StateMachineAction[];
  /** WEBHOOK_BASE_URL, the API's own URL, where providers call back (docs/api.md, Webhooks). */
  webhookBaseUrl?: boolean;
  /** STUCK_*_SECONDS, the scheduled reconciler's deadlines. */
  stuckTaskDeadlines?: boolean;
  /** SUPABASE_* settings and the service key (rows, uploads, signed URLs, input URL checks). */
  supabase?: boolean;
  /** Provider keys and PROVIDER_TIMEOUT_SECONDS (and the provider overrides below). */
  providers?: boolean;
  /** The stage's provider base-URL and model overrides (request validation reads the default models). */
  providerOverrides?: boolean;
  /** RATE_LIMIT_* settings, for the routes that count requests per tenant. */
  rateLimits?: boolean;
  /** NON_PRODUCTION, for the functions that accept API keys (the test key) or issue them (prefix). */
  apiKeys?: boolean;
  /** REGISTRATION_* settings (failed registration attempts per client address). */
  registration?: boolean;
  /** Secrets beyond those implied above. */
  secrets?: readonly SecretName[];
}

/** API Gateway answers after 30 s at most, so API handlers stay well below. */
export const API_FUNCTION_SPECS: Record<ApiFunctionName, FunctionSpec> = {
  'submit-generation': {
    description: 'POST /generation/{operation}: validate, store the pending task, start its execution',
    timeoutSeconds: 20,
    memoryMb: 1024,
    // Key lookup (Get), rate limit (Update), Idempotency-Key claim (Put, Get, Update to take over,
    // conditional Delete to give it back), the task (Put, Get for a repeat, Update to fail it).
    dynamo: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
    stateMachine: ['StartExecution'],
    supabase: true,
    rateLimits: true,
    apiKeys: true,
    providerOverrides: true,
  },
  'get-task-status': {
    description: 'GET /tasks/{jobId}/status: one DynamoDB read (plus signed URLs for a private bucket)',
    timeoutSeconds: 10,
    memoryMb: 512,
    // Key lookup and the task (Get), the tenant's rate limit (Update).
    dynamo: ['GetItem', 'UpdateItem'],
    supabase: true,
    rateLimits: true,
    apiKeys: true,
  },
  'register-api-key': {
    description: 'POST /auth/register: issue an API key for a tenant',
    timeoutSeconds: 10,
    memoryMb: 512,
    // Stores keys and counts failed attempts: conditional PutItem/UpdateItem only, no reads.
    dynamo: ['PutItem', 'UpdateItem'],
    apiKeys: true,
    registration: true,
    secrets: ['REGISTRATION_SECRET'],
  },
  health: {
    description: 'GET /health and GET /auth/health',
    timeoutSeconds: 10,
    memoryMb: 256,
  },
  'not-found': {
    description: 'The $default route: 404 or 405 in the API error shape',
    timeoutSeconds: 10,
    memoryMb: 256,
  },
  'api-docs': {
    description: 'GET /openapi.json, GET /docs and its files: the OpenAPI document and its Swagger UI page',
    timeoutSeconds: 10,
    memoryMb: 256,
    // Reads the default provider models when it describes the request defaults (no secret, no store).
    providerOverrides: true,
  },
  'provider-webhook': {
    description:
      'POST /webhooks/tripo and /webhooks/bfl/{token}: verify a provider callback, resume its task',
    timeoutSeconds: 10,
    memoryMb: 512,
    // The job's lookup item and the task's state (Get), the delivery claim (Put), taking the
    // stored token or noting the arrival, and giving a claim back (Update).
    dynamo: ['GetItem', 'PutItem', 'UpdateItem'],
    stateMachine: ['SendTaskSuccess'],
    secrets: ['TRIPO_WEBHOOK_SECRET'],
  },
};

export const RECONCILE_FUNCTION = 'reconcile-execution';
export type WorkflowLambdaName = WorkflowFunctionName | typeof RECONCILE_FUNCTION;

/**
 * Timeouts stay at or below the Task state's TimeoutSeconds in the ASL (a test checks this),
 * so a hung call surfaces as the function's own timeout.
 */
export const WORKFLOW_FUNCTION_SPECS: Record<WorkflowLambdaName, FunctionSpec> = {
  'mark-task-processing': {
    description: 'State MarkTaskProcessing: pending -> processing, mirrored to the rows',
    timeoutSeconds: 60,
    memoryMb: 512,
    // markProcessing (Update), then the task again for its rows (Get).
    dynamo: ['GetItem', 'UpdateItem'],
    supabase: true,
  },
  'run-provider': {
    description: 'State RunProvider: fetch inputs, call a synchronous provider, upload results',
    timeoutSeconds: 900,
    // Mostly waiting on the provider; enough memory for n decoded results and inputs up to 20 MiB.
    memoryMb: 1024,
    supabase: true,
    providers: true,
  },
  'process-image': {
    description: 'State ProcessImage: downscale an input with jimp and upload the result (no provider)',
    timeoutSeconds: 300,
    // Decoding up to 50 MP (200 MB of RGBA) plus working copies; more memory also means more CPU.
    memoryMb: 3008,
    supabase: true,
  },
  'submit-provider-job': {
    description: 'State SubmitProviderJob: create the asynchronous provider job and record its id',
    timeoutSeconds: 300,
    memoryMb: 1024,
    // Reads the task first (a job already submitted is resumed, not created again), then the
    // create note, the provider job id, or clearing the note (conditional Updates); the job's
    // webhook lookup item (Put) when its provider calls back.
    dynamo: ['GetItem', 'PutItem', 'UpdateItem'],
    supabase: true,
    providers: true,
    webhookBaseUrl: true,
    secrets: ['TRIPO_WEBHOOK_SECRET'],
  },
  'await-provider-callback': {
    description: 'State WaitForProviderCallback: store the task token the provider webhook resumes',
    timeoutSeconds: 60,
    memoryMb: 512,
    // The token, or taking the note of a webhook that came first (conditional Updates).
    dynamo: ['UpdateItem'],
    // Resumes its own wait at once when the webhook came first.
    stateMachine: ['SendTaskSuccess'],
  },
  'poll-provider-job': {
    description: 'State PollProviderJob: one poll; store the results when the job is done',
    // One poll request, then (when done) the result download's retry budget (180 s) and the
    // upload's (60 s): a slow finish must not be cut short by the function's own timeout.
    timeoutSeconds: 600,
    memoryMb: 1024,
    // Progress only (a conditional Update); the job state travels in the execution.
    dynamo: ['UpdateItem'],
    supabase: true,
    providers: true,
  },
  'complete-task': {
    description: 'State CompleteTask: processing -> complete with the stored results',
    timeoutSeconds: 60,
    memoryMb: 512,
    dynamo: ['UpdateItem'],
  },
  'fail-task': {
    description: 'State FailTask: the caught error becomes the task error and error_code',
    timeoutSeconds: 60,
    memoryMb: 512,
    dynamo: ['UpdateItem'],
  },
  'record-result-rows': {
    description: 'States RecordResultRows and RecordFailedRows: mirror the finished task to Supabase rows',
    timeoutSeconds: 60,
    memoryMb: 512,
    // Reads the finished task; once its rows hold the final status, clears its `unfinished` mark.
    dynamo: ['GetItem', 'UpdateItem'],
    supabase: true,
  },
  [RECONCILE_FUNCTION]: {
    description: 'EventBridge: fail the task of an execution that failed, timed out or was aborted',
    timeoutSeconds: 60,
    memoryMb: 512,
    // markFailed (Update), then recordResultRows (Get, Update).
    dynamo: ['GetItem', 'UpdateItem'],
    supabase: true,
  },
};

/** Scheduled operations functions, under functions/ops/. */
export const OPS_FUNCTIONS = ['reconcile-stuck-tasks'] as const;
export type OpsFunctionName = (typeof OPS_FUNCTIONS)[number];

/** How often the scheduled reconciler runs. */
export const RECONCILE_STUCK_TASKS_EVERY_MINUTES = 5;

export const OPS_FUNCTION_SPECS: Record<OpsFunctionName, FunctionSpec> = {
  'reconcile-stuck-tasks': {
    description:
      'Schedule: finish tasks left pending or processing, and rows left unsynchronised, past their deadline',
    // Bounded work per run, well inside the schedule's interval so runs do not overlap. No
    // reserved concurrency: it would fail deploys on accounts at the minimum unreserved quota,
    // and an overlap would only repeat conditional writes.
    timeoutSeconds: 180,
    memoryMb: 512,
    // The `unfinished` index (Query), the task (Get), failing it and clearing its mark (Update).
    dynamo: ['Query', 'GetItem', 'UpdateItem'],
    // Asks whether a stuck task's execution still runs (it never starts one: a task whose start
    // failed is failed, since its client was told to submit again).
    stateMachine: ['DescribeExecution'],
    supabase: true,
    stuckTaskDeadlines: true,
  },
};

/** The secrets a function reads, implied by its spec. */
export function secretsFor(spec: FunctionSpec): SecretName[] {
  return [
    ...(spec.providers ? PROVIDER_SECRET_NAMES : []),
    ...(spec.supabase ? (['SUPABASE_SERVICE_KEY'] as const) : []),
    ...(spec.secrets ?? []),
  ];
}

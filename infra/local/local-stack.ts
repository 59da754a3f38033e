import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { TEST_API_KEY, testKeyItem } from '../../functions/core/auth/api-keys.ts';
import { getConfig, resetConfig } from '../../functions/core/config.ts';
import { resetSfnClient } from '../../functions/core/executions/execution-starter.ts';
import { logger } from '../../functions/core/logger.ts';
import { resetOpenaiClient } from '../../functions/core/providers/openai/client.ts';
import { resetSupabaseClients } from '../../functions/core/storage/supabase-connection.ts';
import {
  type Item,
  resetDynamoClient,
  TABLE_KEYS,
  toItem,
  UNFINISHED_INDEX,
} from '../../functions/core/store/dynamo.ts';
import type { ReconcileReport } from '../../functions/core/tasks/reconcile.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import { resetTaskCallbacksClient } from '../../functions/core/webhooks/task-callbacks.ts';
import { handler as reconcileStuckTasks } from '../../functions/ops/reconcile-stuck-tasks.ts';
import { handler as awaitProviderCallback } from '../../functions/workflow/await-provider-callback.ts';
import { handler as completeTask } from '../../functions/workflow/complete-task.ts';
import { handler as failTask } from '../../functions/workflow/fail-task.ts';
import { handler as markTaskProcessing } from '../../functions/workflow/mark-task-processing.ts';
import { handler as pollProviderJob } from '../../functions/workflow/poll-provider-job.ts';
import { handler as reconcileExecution } from '../../functions/workflow/reconcile-execution.ts';
import { handler as recordResultRows } from '../../functions/workflow/record-result-rows.ts';
import { handler as runProvider } from '../../functions/workflow/run-provider.ts';
import { handler as submitProviderJob } from '../../functions/workflow/submit-provider-job.ts';
import { serveApi } from './api-gateway.ts';
import { startDynamoThread } from './dynamo-thread.ts';
import { LOCAL_STATE_MACHINE_ARN, LocalExecutionRunner } from './execution-runner.ts';
import { invalidErrorStatus, invalidTimes, serveFaultRoute } from './fault-routes.ts';
import { answerProtocolErrors, readBody, sendJson, sendWebResponse, toWebRequest } from './http-utils.ts';
import { ThreadedHandler } from './image-worker.ts';
import { LocalTables } from './rest-routes.ts';
import { closeDrawPool } from './sandbox/draw-pool.ts';
import { SANDBOX_PROVIDERS } from './sandbox/providers.ts';
import { type Fault, SandboxState, sandboxContext } from './sandbox/sandbox.ts';
import { tripoWebhookSettings } from './sandbox/tripo.ts';
import { LocalStorage } from './storage-routes.ts';

/**
 * The whole API on one machine (docs/api.md, Local stack): the deployed handlers behind a node:http server,
 * the deployed ASL run by aws-local-stepfunctions, DynamoDB's API from dynalite (data on disk),
 * Supabase Storage and REST routes from DATA_DIR, and a simulator for each provider without a key.
 */

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_REGISTRATION_SECRET = 'local-registration-secret';
/** The Tripo webhook secret the local stack and its Tripo simulator share (shaped like Tripo's). */
export const LOCAL_TRIPO_WEBHOOK_SECRET = 'whsec_local_tripo_webhook_secret';
const defaultedVariables = new Set<string>();
/** How long an idle keep-alive connection stays open: longer than any workflow step may run. */
export const IDLE_CONNECTION_MS = 10 * 60 * 1000;

export interface LocalStackOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Milliseconds a Wait state lasts (default 1000; tests use 0). */
  waitMs?: number;
  /** Milliseconds between retries (default: the ASL's own backoff). */
  retryIntervalMs?: number;
  /** Environment to apply before configuration is read (tests set limits and timeouts). */
  env?: Record<string, string>;
  /** Start unfinished tasks' executions again (default true). */
  resumeUnfinished?: boolean;
  /**
   * Providers call back (docs/api.md, Webhooks): WEBHOOK_BASE_URL is this stack's URL, and the
   * Tripo and BFL simulators send signed webhooks to it. Default: on when Waits take real time
   * (`npm start`), off when they take none (tests, which turn it on where they test it).
   */
  webhooks?: boolean;
  /**
   * Milliseconds between runs of the stuck-task reconciler, as the deployed schedule runs it
   * every 5 minutes (default 60000; 0 turns the runs off: tests call `reconcileNow()`).
   */
  reconcileIntervalMs?: number;
  /**
   * Awaited once the port is open and before the stack is ready (tests use it to see the
   * answer a request gets while the stack is still starting).
   */
  beforeReady?: (url: string) => Promise<void>;
}

export interface LocalStack {
  url: string;
  port: number;
  dataDir: string;
  registrationSecret: string;
  testApiKey: string | undefined;
  sandboxed: string[];
  configured: string[];
  runner: LocalExecutionRunner;
  sandboxes: Map<string, SandboxState>;
  /** Runs the stuck-task reconciler once, after any run in progress; resolves with what it did. */
  reconcileNow(): Promise<ReconcileReport>;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolvePort((server.address() as AddressInfo).port));
  });
}

async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

const hasUnfinishedIndex = (table: TableDescription | undefined): boolean =>
  (table?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === UNFINISHED_INDEX.name);

/** Waits until the table and its indexes are ACTIVE (dynalite activates them asynchronously). */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const table = await describeTable(client, tableName);
    const indexes = table?.GlobalSecondaryIndexes ?? [];
    if (table?.TableStatus === 'ACTIVE' && indexes.every((index) => index.IndexStatus === 'ACTIVE')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`The local DynamoDB table ${tableName} did not become ACTIVE`);
}

/**
 * Creates the table (with the index of unfinished tasks) if needed and waits until it is ACTIVE.
 * A table made before that index existed gets it by a rebuild: dynalite accepts UpdateTable's
 * `GlobalSecondaryIndexUpdates` but ignores them (checked with dynalite 4.0.0), so its items are
 * copied out (to `backupFile` first, so a stop midway loses nothing: the next start finishes the
 * copy), the table is made again with the index, and the items are written back.
 */
async function ensureTable(client: DynamoDBClient, tableName: string, backupFile: string): Promise<void> {
  const table = await describeTable(client, tableName);
  if (table === undefined) await createTable(client, tableName);
  else if (!hasUnfinishedIndex(table)) {
    await waitUntilActive(client, tableName);
    // A backup already there is the complete copy a stopped rebuild made: the table may be partial.
    if (!existsSync(backupFile)) {
      const temporary = `${backupFile}.tmp`;
      writeFileSync(temporary, JSON.stringify(await scanAll(client, tableName)));
      renameSync(temporary, backupFile);
    }
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    for (let attempt = 0; (await describeTable(client, tableName)) !== undefined; attempt++) {
      if (attempt >= 200) throw new Error(`The local DynamoDB table ${tableName} was not deleted`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await createTable(client, tableName);
  }
  await waitUntilActive(client, tableName);
  if (existsSync(backupFile)) {
    const items = JSON.parse(readFileSync(backupFile, 'utf8')) as Item[];
    for (const item of items) {
      await client.send(new PutItemCommand({ TableName: tableName, Item: withUnfinishedMark(item) }));
    }
    rmSync(backupFile);
  }
}

/** A task not done yet joins the index (tasks written before it existed lack the attribute). */
function withUnfinishedMark(item: Item): Item {
  const status = item.status?.S;
  if (item.entity?.S !== 'task' || (status !== 'pending' && status !== 'processing')) return item;
  return { ...item, [UNFINISHED_INDEX.partitionKey]: { S: UNFINISHED_INDEX.value } };
}

async function scanAll(client: DynamoDBClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
        { AttributeName: UNFINISHED_INDEX.partitionKey, AttributeType: 'S' },
        { AttributeName: UNFINISHED_INDEX.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: UNFINISHED_INDEX.name,
          KeySchema: [
            { AttributeName: UNFINISHED_INDEX.partitionKey, KeyType: 'HASH' },
            { AttributeName: UNFINISHED_INDEX.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}

function parseFault(body: unknown): Fault | string {
  if (typeof body !== 'object' || body === null) return 'Body must be a JSON object';
  const input = body as Record<string, unknown>;
  const fault: Fault = { times: 1 };
  const problem = invalidTimes(input.times) ?? invalidErrorStatus(input.status);
  if (problem) return problem;
  if (input.times !== undefined) fault.times = input.times as number;
  if (input.status !== undefined) fault.status = input.status as number;
  if (input.timeout !== undefined) {
    if (typeof input.timeout !== 'boolean') return 'timeout must be true or false';
    fault.timeout = input.timeout;
  }
  if (input.moderated !== undefined) {
    if (typeof input.moderated !== 'boolean') return 'moderated must be true or false';
    fault.moderated = input.moderated;
  }
  if (input.outcome !== undefined) {
    if (typeof input.outcome !== 'string' || input.outcome === '')
      return 'outcome must be a non-empty string';
    fault.outcome = input.outcome;
  }
  if (!fault.status && !fault.timeout && !fault.moderated && !fault.outcome) {
    return 'Give one of status, timeout, moderated or outcome';
  }
  return fault;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir ?? process.env.DATA_DIR ?? join(ROOT, '.data'));
  mkdirSync(dataDir, { recursive: true });
  const host = options.host ?? process.env.HOST ?? '127.0.0.1';

  // On a thread of its own, so its work runs beside the API's instead of on the same event loop.
  const dynamo = await startDynamoThread({
    path: join(dataDir, 'dynamodb'),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const dynamoPort = dynamo.port;
  // What startup has opened so far, closed again (last first) if a later step throws, so a failed
  // start leaves no thread, port or worker behind.
  const opened: (() => unknown)[] = [() => dynamo.close()];
  try {
    const server = createServer({ requireHostHeader: false });
    answerProtocolErrors(server);
    // The port opens early (its URL is part of the environment set below), so until everything is
    // ready every request gets a 503 to retry instead of waiting on a server that never answers.
    let serve: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (serve) return serve(request, response);
      request.resume();
      sendJson(
        response,
        503,
        { detail: 'The local stack is starting; retry shortly' },
        { 'retry-after': '1' },
      );
    });
    // The image worker downloads its input, is busy decoding for seconds (its timers cannot run),
    // then uploads on the same pooled connection: with Node's 5 s default this server would have
    // closed it meanwhile and the upload would fail with a socket error.
    server.keepAliveTimeout = IDLE_CONNECTION_MS;
    opened.push(() => {
      server.closeAllConnections();
      return new Promise<void>((done) => server.close(() => done()));
    });
    const port = await listen(server, options.port ?? Number(process.env.PORT ?? 8000), host);
    const url = `http://localhost:${port}`;

    // Everything the deployed stack injects, pointed at this process.
    const defaults: Record<string, string> = {
      STAGE: 'local',
      NON_PRODUCTION: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      SUPABASE_URL: url,
      SUPABASE_SERVICE_KEY: 'local-service-key',
      REGISTRATION_SECRET: DEFAULT_REGISTRATION_SECRET,
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    for (const [key, value] of Object.entries(defaults)) {
      // A default this process set earlier (a previous stack on another port) is replaced too.
      if (!process.env[key] || defaultedVariables.has(key)) {
        process.env[key] = value;
        defaultedVariables.add(key);
      }
    }
    // Zero retry intervals for the state machine mean zero waits for in-step retries too (the
    // image worker thread shares this environment).
    if (options.retryIntervalMs === 0) {
      process.env.RETRY_WAIT_SCALE = '0';
      defaultedVariables.add('RETRY_WAIT_SCALE');
    } else if (defaultedVariables.has('RETRY_WAIT_SCALE')) {
      delete process.env.RETRY_WAIT_SCALE;
      defaultedVariables.delete('RETRY_WAIT_SCALE');
    }
    for (const [key, value] of Object.entries(options.env ?? {})) {
      process.env[key] = value;
      defaultedVariables.delete(key);
    }
    process.env.DYNAMODB_ENDPOINT = `http://127.0.0.1:${dynamoPort}`;
    process.env.STEPFUNCTIONS_ENDPOINT = `${url}/__aws/stepfunctions`;
    process.env.STATE_MACHINE_ARN = LOCAL_STATE_MACHINE_ARN;
    const webhooks = options.webhooks ?? options.waitMs === undefined;
    if (webhooks) {
      process.env.WEBHOOK_BASE_URL = url;
      process.env.TRIPO_WEBHOOK_SECRET ||= LOCAL_TRIPO_WEBHOOK_SECRET;
      // As Tripo's console setting: the simulator signs with this secret and posts to this route.
      tripoWebhookSettings.target = {
        url: `${url}/webhooks/tripo`,
        secret: process.env.TRIPO_WEBHOOK_SECRET,
      };
    } else {
      delete process.env.WEBHOOK_BASE_URL;
      tripoWebhookSettings.target = undefined;
    }
    const sandboxed: string[] = [];
    const configured: string[] = [];
    for (const { settings } of SANDBOX_PROVIDERS) {
      const sandboxKey = settings.sandbox.key ?? 'sandbox';
      if (process.env[settings.keyEnv] && process.env[settings.keyEnv] !== sandboxKey) {
        configured.push(settings.name);
        continue;
      }
      process.env[settings.keyEnv] = sandboxKey;
      process.env[settings.baseUrl.env] = `${url}/__sandbox/${settings.name}${settings.sandbox.apiPath}`;
      sandboxed.push(settings.name);
    }
    resetConfig();
    resetDynamoClient();
    resetSfnClient();
    resetTaskCallbacksClient();
    resetSupabaseClients();
    resetOpenaiClient();
    const config = getConfig();

    const client = new DynamoDBClient({ region: config.AWS_REGION, endpoint: process.env.DYNAMODB_ENDPOINT });
    await ensureTable(client, config.TABLE_NAME, join(dataDir, 'dynamodb-rebuild.json'));
    if (config.testKeyEnabled) {
      await client.send(new PutItemCommand({ TableName: config.TABLE_NAME, Item: toItem(testKeyItem()) }));
    }
    client.destroy();

    const storage = new LocalStorage(join(dataDir, 'storage'));
    const tables = new LocalTables(join(dataDir, 'tables'), [
      config.SUPABASE_CONCEPT_IMAGES_TABLE,
      config.SUPABASE_MODELS_TABLE,
    ]);
    // ProcessImage decodes and re-encodes large images: off the event loop that serves everything.
    const imageWorker = new ThreadedHandler(
      new URL('../../functions/workflow/process-image.ts', import.meta.url),
    );
    opened.push(
      () => imageWorker.close(),
      () => closeDrawPool(),
      () => resetDynamoClient(),
    );
    const runner = new LocalExecutionRunner({
      definitionFile: join(ROOT, 'state-machines', 'generation.asl.json'),
      handlers: {
        'mark-task-processing': markTaskProcessing,
        'run-provider': runProvider,
        'process-image': imageWorker.invoke,
        'submit-provider-job': submitProviderJob,
        'poll-provider-job': pollProviderJob,
        'await-provider-callback': awaitProviderCallback,
        'complete-task': completeTask,
        'fail-task': failTask,
        'record-result-rows': recordResultRows,
      },
      waitMs: options.waitMs ?? 1000,
      retryIntervalMs: options.retryIntervalMs,
      onExecutionFailed: (event) => reconcileExecution(event),
    });

    const sandboxes = new Map<string, SandboxState>();
    for (const { settings } of SANDBOX_PROVIDERS) sandboxes.set(settings.name, new SandboxState());

    async function serveSandbox(
      request: IncomingMessage,
      response: ServerResponse,
      target: URL,
    ): Promise<void> {
      const [, , name = '', ...rest] = target.pathname.split('/');
      const provider = SANDBOX_PROVIDERS.find((candidate) => candidate.settings.name === name);
      const state = sandboxes.get(name);
      if (!provider || !state) {
        sendJson(response, 404, { detail: `No sandbox for provider '${name}'` });
        return;
      }
      const path = `/${rest.join('/')}`;
      const method = (request.method ?? 'GET').toUpperCase();
      if (path === '/faults') {
        await serveFaultRoute(request, response, {
          parse: parseFault,
          add: (fault) => state.addFault(fault),
          clear: () => state.clear(),
          created: (fault) => ({ provider: name, fault }),
        });
        return;
      }
      if (path === '/requests' && method === 'GET') {
        sendJson(response, 200, state.requests);
        return;
      }
      const abort = new AbortController();
      response.on('close', () => {
        if (!response.writableFinished) abort.abort();
      });
      const body = await readBody(request, 100 * 1024 * 1024);
      const webRequest = toWebRequest(request, body, url, abort.signal);
      const webResponse = await provider.simulator.handle(
        webRequest,
        path,
        sandboxContext(state, `${url}/__sandbox/${name}`),
      );
      await sendWebResponse(response, webResponse);
    }

    const handleRequest = (request: IncomingMessage, response: ServerResponse): void => {
      // HTTP/1.1 requires Host (RFC 9112 §3.2); Node's own check answers without a body, so it is
      // off (`requireHostHeader: false`) and made here with a JSON answer.
      if (request.httpVersion === '1.1' && request.headers.host === undefined) {
        request.resume();
        sendJson(response, 400, { detail: 'Host header is required' });
        return;
      }
      let target: URL;
      try {
        target = new URL(request.url ?? '/', url);
      } catch {
        // e.g. `//` or `/\`, which URL parsing reads as a host.
        request.resume();
        sendJson(response, 400, { detail: 'Request path is not a valid URL path' });
        return;
      }
      const work = (async () => {
        if (target.pathname === '/__aws/stepfunctions' || target.pathname === '/__aws/stepfunctions/')
          return runner.serve(request, response);
        if (target.pathname.startsWith('/__sandbox/')) return serveSandbox(request, response, target);
        if (await storage.serve(request, response, target)) return;
        if (await tables.serve(request, response, target)) return;
        return serveApi(request, response, target);
      })();
      work.catch((error: unknown) => {
        if (response.headersSent) {
          response.destroy();
          return;
        }
        if ((error as Error).message === 'client disconnected') return;
        logger.error('Local host error', { path: target.pathname, error_message: (error as Error).message });
        sendJson(response, 500, { detail: 'Internal server error' });
      });
    };

    await options.beforeReady?.(url);
    serve = handleRequest;

    if (options.resumeUnfinished ?? true) {
      // A task left pending/processing by a stop is run again: steps are idempotent and results
      // overwrite the same objects, so nothing is lost or doubled.
      for (const task of await taskRepository.listUnfinished()) {
        const { tenant_id, job_id, client_task_id, operation, provider, params } = task;
        runner.start(
          job_id,
          JSON.stringify({ tenant_id, job_id, client_task_id, operation, provider, params }),
        );
      }
    }

    // The deployed stack runs the reconciler on a schedule; here an unref'd interval runs it (a run
    // still going is not joined by another), and reconcileNow() runs it on demand after any run.
    let lastRun: Promise<unknown> = Promise.resolve();
    let running = false;
    const reconcileNow = (): Promise<ReconcileReport> => {
      const run = lastRun.then(async () => {
        running = true;
        try {
          return await reconcileStuckTasks({ source: 'local', 'detail-type': 'Scheduled Event' });
        } finally {
          running = false;
        }
      });
      lastRun = run.catch(() => undefined);
      return run;
    };
    const reconcileIntervalMs = options.reconcileIntervalMs ?? 60_000;
    const reconcileTimer =
      reconcileIntervalMs > 0
        ? setInterval(() => {
            if (running) return;
            reconcileNow().catch((error: unknown) =>
              logger.error('Stuck-task reconciliation failed', { error_message: (error as Error).message }),
            );
          }, reconcileIntervalMs).unref()
        : undefined;

    return {
      url,
      port,
      dataDir,
      registrationSecret: process.env.REGISTRATION_SECRET ?? DEFAULT_REGISTRATION_SECRET,
      testApiKey: config.testKeyEnabled ? TEST_API_KEY : undefined,
      sandboxed,
      configured,
      runner,
      sandboxes,
      reconcileNow,
      async close() {
        clearInterval(reconcileTimer);
        await Promise.race([lastRun, new Promise((done) => setTimeout(done, 2000).unref())]);
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
        await Promise.race([runner.idle(), new Promise((done) => setTimeout(done, 2000).unref())]);
        await imageWorker.close();
        await closeDrawPool();
        resetDynamoClient();
        await dynamo.close();
      },
    };
  } catch (error) {
    for (const close of opened.reverse()) {
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
    }
    throw error;
  }
}

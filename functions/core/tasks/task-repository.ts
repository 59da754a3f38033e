import {
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { getConfig } from '../config.ts';
import {
  dynamoClient,
  fromItem,
  isConditionalCheckFailed,
  isExpired,
  nowEpochSeconds,
  tableName,
  toAttribute,
  toItem,
  UNFINISHED_INDEX,
} from '../store/dynamo.ts';
import { type StoredAsset, type Task, TaskSchema } from './task.ts';

/**
 * Tasks live under `TENANT#<tenant>` / `TASK#<job id>`, so a read is one GetItem keyed by the
 * caller's tenant: another tenant's job id simply is not there. Every transition is a
 * conditional write, which makes each workflow step safe to retry and guarantees that a
 * finished task (complete or failed) is never changed again.
 */

/** A task's item key (also used by the webhook notes written on it). */
export const taskKey = (tenantId: string, jobId: string) => ({
  pk: { S: `TENANT#${tenantId}` },
  sk: { S: `TASK#${jobId}` },
});

const UNFINISHED = { ':pending': { S: 'pending' }, ':processing': { S: 'processing' } };
const FINISHED = { ':complete': { S: 'complete' }, ':failed': { S: 'failed' } };

/** Which tasks a stuck-task query asks for: by status, last changed before `before` (ISO time). */
export interface StuckQuery {
  statuses: Task['status'][];
  before: string;
  /** Stops after this many tasks (the caller's share of a bounded run). */
  limit: number;
  /** Asked before each page: true ends the query (the caller's time is up). */
  shouldStop?: () => boolean;
}

function retentionExpiry(): number {
  return nowEpochSeconds() + getConfig().TASK_RETENTION_DAYS * 86_400;
}

export type NewTask = Omit<Task, 'status' | 'created_at' | 'updated_at'>;

export const taskRepository = {
  /** Writes a new pending task; false when the job id already exists. */
  async create(task: NewTask): Promise<boolean> {
    const now = new Date().toISOString();
    const record: Task = { ...task, status: 'pending', created_at: now, updated_at: now };
    try {
      await dynamoClient().send(
        new PutItemCommand({
          TableName: tableName(),
          Item: {
            ...taskKey(task.tenant_id, task.job_id),
            ...toItem(record),
            entity: { S: 'task' },
            // In the index of unfinished tasks until its rows hold its final status.
            [UNFINISHED_INDEX.partitionKey]: { S: UNFINISHED_INDEX.value },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  },

  async get(tenantId: string, jobId: string): Promise<Task | undefined> {
    const result = await dynamoClient().send(
      new GetItemCommand({ TableName: tableName(), Key: taskKey(tenantId, jobId), ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    const record = fromItem(result.Item);
    if (isExpired(record)) return undefined;
    return TaskSchema.parse(record);
  },

  /** pending → processing; a no-op when already processing (a retried step) or finished. */
  async markProcessing(tenantId: string, jobId: string): Promise<boolean> {
    const now = new Date().toISOString();
    return conditionalUpdate(tenantId, jobId, {
      update: 'SET #status = :processing, updated_at = :now, started_at = if_not_exists(started_at, :now)',
      condition: '#status IN (:pending, :processing)',
      names: { '#status': 'status' },
      values: { ...UNFINISHED, ':now': { S: now } },
    });
  },

  /**
   * Records the provider's own job id and what polling it needs, before any polling, so a rerun
   * of the submit step (a retry, or a restarted local stack) resumes the job instead of paying for
   * a second one.
   */
  async setProviderJob(
    tenantId: string,
    jobId: string,
    providerJobId: string,
    providerState: Record<string, unknown>,
  ): Promise<boolean> {
    return conditionalUpdate(tenantId, jobId, {
      update:
        'SET ai_service_task_id = :provider_job, provider_state = :state, updated_at = :now REMOVE provider_create_started_at',
      condition: '#status = :processing',
      names: { '#status': 'status' },
      values: {
        ':processing': { S: 'processing' },
        ':provider_job': { S: providerJobId },
        ':state': { M: toItem(providerState) },
        ':now': { S: new Date().toISOString() },
      },
    });
  },

  /**
   * Notes that a paid create is about to go out, before it does: if the step dies before the
   * answer is recorded, a rerun finds this note and does not create a second job.
   */
  async markProviderCreateStarted(tenantId: string, jobId: string): Promise<boolean> {
    return conditionalUpdate(tenantId, jobId, {
      update: 'SET provider_create_started_at = :now, updated_at = :now',
      condition:
        '#status = :processing AND attribute_not_exists(ai_service_task_id) AND attribute_not_exists(provider_create_started_at)',
      names: { '#status': 'status' },
      values: { ':processing': { S: 'processing' }, ':now': { S: new Date().toISOString() } },
    });
  },

  /** Clears the note when the provider provably declined the create (no job exists). */
  async clearProviderCreateStarted(tenantId: string, jobId: string): Promise<boolean> {
    return conditionalUpdate(tenantId, jobId, {
      update: 'REMOVE provider_create_started_at',
      condition: '#status = :processing',
      names: { '#status': 'status' },
      values: { ':processing': { S: 'processing' } },
    });
  },

  /** Raises progress; never lowers it, and never reports 100 before completion. */
  async updateProgress(tenantId: string, jobId: string, progress: number): Promise<boolean> {
    const value = Math.max(0, Math.min(99, Math.floor(progress)));
    return conditionalUpdate(tenantId, jobId, {
      update: 'SET progress = :progress, updated_at = :now',
      condition: '#status = :processing AND (attribute_not_exists(progress) OR progress < :progress)',
      names: { '#status': 'status' },
      values: {
        ':processing': { S: 'processing' },
        ':progress': { N: String(value) },
        ':now': { S: new Date().toISOString() },
      },
    });
  },

  async markComplete(
    tenantId: string,
    jobId: string,
    assets: StoredAsset[],
    resultMetadata: Record<string, unknown>,
    reportsProgress: boolean,
  ): Promise<boolean> {
    const now = new Date().toISOString();
    const values: Record<string, ReturnType<typeof toAttribute>> = {
      ...UNFINISHED,
      ':complete': { S: 'complete' },
      ':assets': toAttribute(assets),
      ':metadata': toAttribute(resultMetadata),
      ':now': { S: now },
      ':expires': { N: String(retentionExpiry()) },
    };
    let update =
      'SET #status = :complete, assets = :assets, result_metadata = :metadata, updated_at = :now, finished_at = :now, expires_at = :expires';
    if (reportsProgress) {
      update += ', progress = :hundred';
      values[':hundred'] = { N: '100' };
    }
    return conditionalUpdate(tenantId, jobId, {
      update,
      condition: '#status IN (:pending, :processing)',
      names: { '#status': 'status' },
      values: Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Record<
        string,
        NonNullable<ReturnType<typeof toAttribute>>
      >,
    });
  },

  /** Ends an unfinished task as failed; never touches a complete one. */
  async markFailed(tenantId: string, jobId: string, error: string, errorCode: string): Promise<boolean> {
    const now = new Date().toISOString();
    return conditionalUpdate(tenantId, jobId, {
      update:
        'SET #status = :failed, #error = :error, error_code = :code, updated_at = :now, finished_at = :now, expires_at = :expires',
      condition: '#status IN (:pending, :processing)',
      names: { '#status': 'status', '#error': 'error' },
      values: {
        ...UNFINISHED,
        ':failed': { S: 'failed' },
        ':error': { S: error },
        ':code': { S: errorCode },
        ':now': { S: now },
        ':expires': { N: String(retentionExpiry()) },
      },
    });
  },

  /**
   * Takes a finished task out of the index of unfinished tasks, once its Supabase rows hold its
   * final status; false when the task is not finished (or gone). `updated_at` stays: it is the
   * time of the task's last change, which the rows mirror.
   */
  async markRowsRecorded(tenantId: string, jobId: string): Promise<boolean> {
    return conditionalUpdate(tenantId, jobId, {
      update: 'REMOVE #unfinished',
      condition: '#status IN (:complete, :failed)',
      names: { '#status': 'status', '#unfinished': UNFINISHED_INDEX.partitionKey },
      values: FINISHED,
    });
  },

  /**
   * Tasks in the index of unfinished tasks with one of `statuses`, last changed before `before`,
   * oldest first, page by page (each page at most 100 items read), at most `limit` of them. The
   * index is sparse (only tasks not done yet), and its sort key is `updated_at`, so only the age
   * is a key condition; the status is a filter (DynamoDB refuses key attributes in a filter).
   */
  async *findStuck(query: StuckQuery): AsyncGenerator<Task> {
    if (query.limit <= 0 || query.statuses.length === 0) return;
    const statusValues = Object.fromEntries(
      query.statuses.map((status, index) => [`:s${index}`, { S: status }]),
    );
    let found = 0;
    let startKey: Record<string, NonNullable<ReturnType<typeof toAttribute>>> | undefined;
    do {
      if (query.shouldStop?.()) return;
      const page = await dynamoClient().send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: UNFINISHED_INDEX.name,
          KeyConditionExpression: '#unfinished = :task AND #updated < :before',
          FilterExpression: `#status IN (${Object.keys(statusValues).join(', ')})`,
          ExpressionAttributeNames: {
            '#unfinished': UNFINISHED_INDEX.partitionKey,
            '#updated': UNFINISHED_INDEX.sortKey,
            '#status': 'status',
          },
          ExpressionAttributeValues: {
            ':task': { S: UNFINISHED_INDEX.value },
            ':before': { S: query.before },
            ...statusValues,
          },
          ScanIndexForward: true,
          Limit: 100,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const record = fromItem(item);
        if (isExpired(record)) continue;
        yield TaskSchema.parse(record);
        found += 1;
        if (found >= query.limit) return;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  },

  /** Unfinished tasks of every tenant; used by the local host to resume work after a restart. */
  async listUnfinished(): Promise<Task[]> {
    const tasks: Task[] = [];
    for await (const task of scanUnfinished(false)) tasks.push(task);
    return tasks;
  },

  /**
   * Puts every pending or processing task that lacks the `unfinished` mark into the index of
   * unfinished tasks (tasks written before the index existed), so the scheduled reconciler sees
   * them. A Scan: run once by an operator (`npm run ops:backfill-unfinished`), never by a Lambda.
   * Each mark is a conditional write (still unfinished, still unmarked), so a task that finishes
   * meanwhile is left alone. Finished tasks are not marked: whether their rows were written
   * cannot be told afterwards.
   */
  async markUnmarkedUnfinished(
    options: { dryRun?: boolean } = {},
  ): Promise<{ found: number; marked: number }> {
    let found = 0;
    let marked = 0;
    for await (const task of scanUnfinished(true)) {
      found += 1;
      if (options.dryRun) continue;
      const changed = await conditionalUpdate(task.tenant_id, task.job_id, {
        update: 'SET #unfinished = :mark',
        condition: '#status IN (:pending, :processing) AND attribute_not_exists(#unfinished)',
        names: { '#status': 'status', '#unfinished': UNFINISHED_INDEX.partitionKey },
        values: { ...UNFINISHED, ':mark': { S: UNFINISHED_INDEX.value } },
      });
      if (changed) marked += 1;
    }
    return { found, marked };
  },
};

/** Pending and processing tasks of every tenant by Scan (`unmarkedOnly`: those without the mark). */
async function* scanUnfinished(unmarkedOnly: boolean): AsyncGenerator<Task> {
  let startKey: Record<string, NonNullable<ReturnType<typeof toAttribute>>> | undefined;
  do {
    const page = await dynamoClient().send(
      new ScanCommand({
        TableName: tableName(),
        FilterExpression: `entity = :task AND #status IN (:pending, :processing)${
          unmarkedOnly ? ' AND attribute_not_exists(#unfinished)' : ''
        }`,
        ExpressionAttributeNames: {
          '#status': 'status',
          ...(unmarkedOnly ? { '#unfinished': UNFINISHED_INDEX.partitionKey } : {}),
        },
        ExpressionAttributeValues: { ':task': { S: 'task' }, ...UNFINISHED },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) yield TaskSchema.parse(fromItem(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/**
 * One conditional UpdateItem on a task: true when it applied, false when the task is gone or the
 * condition did not hold. Shared by every state change of a task (and the webhook notes on it,
 * functions/core/webhooks/callback-store.ts), so each is a single conditional write.
 */
export async function conditionalUpdate(
  tenantId: string,
  jobId: string,
  expression: {
    update: string;
    condition: string;
    names?: Record<string, string>;
    values?: Record<string, NonNullable<ReturnType<typeof toAttribute>>>;
  },
): Promise<boolean> {
  try {
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: taskKey(tenantId, jobId),
        UpdateExpression: expression.update,
        ConditionExpression: `attribute_exists(pk) AND ${expression.condition}`,
        ...(expression.names ? { ExpressionAttributeNames: expression.names } : {}),
        ...(expression.values ? { ExpressionAttributeValues: expression.values } : {}),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient, isConditionalCheckFailed, nowEpochSeconds, tableName } from '../store/dynamo.ts';
import { conditionalUpdate, taskKey, taskRepository } from '../tasks/task-repository.ts';

/**
 * What the webhook path keeps in the table (docs/api.md, Webhooks), beside the tasks:
 * - on the task item, `callback_token` (the Step Functions task token the execution waits on) and
 *   `callback_arrived_at` (a webhook came while no token was stored). Both are conditional
 *   writes on the same item, so of a webhook and the token-recording step, exactly one resumes
 *   the execution, whichever comes first;
 * - `WEBHOOK#<provider>#<key>` → the task: the lookup a webhook needs (Tripo's task id, BFL's
 *   per-task URL token), written when the provider job is created; no Scan ever;
 * - `WEBHOOK_DELIVERY#<provider>#<id>`: deliveries already taken (a conditional put), so a
 *   redelivery is acknowledged and ignored.
 * DynamoDB's TTL removes old items lazily and the local table never, so every read checks
 * `expires_at` itself.
 */

/** How long a provider job's lookup item lives: far past any job's deadline. */
const LINK_TTL_SECONDS = 7 * 86_400;
/** How long a delivery id is remembered (providers redeliver within hours, not days). */
const DELIVERY_TTL_SECONDS = 3 * 86_400;

export interface TaskLink {
  tenant_id: string;
  job_id: string;
  /** BFL: the `webhook_secret` sent with this job's create. */
  secret?: string | undefined;
}

export async function putTaskLink(provider: string, key: string, link: TaskLink): Promise<void> {
  await dynamoClient().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: {
        pk: { S: `WEBHOOK#${provider}#${key}` },
        sk: { S: 'LINK' },
        entity: { S: 'webhook-link' },
        tenant_id: { S: link.tenant_id },
        job_id: { S: link.job_id },
        ...(link.secret ? { secret: { S: link.secret } } : {}),
        expires_at: { N: String(nowEpochSeconds() + LINK_TTL_SECONDS) },
      },
    }),
  );
}

export async function findTaskLink(provider: string, key: string): Promise<TaskLink | undefined> {
  const result = await dynamoClient().send(
    new GetItemCommand({
      TableName: tableName(),
      Key: { pk: { S: `WEBHOOK#${provider}#${key}` }, sk: { S: 'LINK' } },
      ConsistentRead: true,
    }),
  );
  const item = result.Item;
  if (!item?.tenant_id?.S || !item.job_id?.S) return undefined;
  if (Number(item.expires_at?.N ?? 0) <= nowEpochSeconds()) return undefined;
  return { tenant_id: item.tenant_id.S, job_id: item.job_id.S, secret: item.secret?.S };
}

/** Takes a delivery id once: false when it was taken before (and has not expired). */
export async function claimDelivery(provider: string, deliveryId: string): Promise<boolean> {
  const now = nowEpochSeconds();
  try {
    await dynamoClient().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: {
          pk: { S: `WEBHOOK_DELIVERY#${provider}#${deliveryId}` },
          sk: { S: 'DELIVERY' },
          entity: { S: 'webhook-delivery' },
          expires_at: { N: String(now + DELIVERY_TTL_SECONDS) },
        },
        ConditionExpression: 'attribute_not_exists(pk) OR expires_at <= :now',
        ExpressionAttributeValues: { ':now': { N: String(now) } },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/** Gives a delivery id back (its handling failed before it took effect: the retry must not be ignored). */
export async function releaseDelivery(provider: string, deliveryId: string): Promise<void> {
  await dynamoClient().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: { pk: { S: `WEBHOOK_DELIVERY#${provider}#${deliveryId}` }, sk: { S: 'DELIVERY' } },
      UpdateExpression: 'SET expires_at = :zero',
      ExpressionAttributeValues: { ':zero': { N: '0' } },
    }),
  );
}

export type TokenRecord = 'stored' | 'callback-arrived' | 'not-processing';

/**
 * The token-recording step: stores the execution's task token on a processing task unless a
 * webhook already came (`callback-arrived`: the note is cleared and the caller resumes at once).
 */
export async function recordCallbackToken(
  tenantId: string,
  jobId: string,
  token: string,
): Promise<TokenRecord> {
  const stored = await conditionalUpdate(tenantId, jobId, {
    update: 'SET callback_token = :token',
    condition: '#status = :processing AND attribute_not_exists(callback_arrived_at)',
    names: { '#status': 'status' },
    values: { ':token': { S: token }, ':processing': { S: 'processing' } },
  });
  if (stored) return 'stored';
  const arrived = await conditionalUpdate(tenantId, jobId, {
    update: 'REMOVE callback_arrived_at, callback_token',
    condition: 'attribute_exists(callback_arrived_at)',
  });
  return arrived ? 'callback-arrived' : 'not-processing';
}

export type CallbackNote = { kind: 'token'; token: string } | { kind: 'noted' } | { kind: 'not-processing' };

/**
 * A webhook for the task came: takes the stored token (the caller sends it), or, when none is
 * stored yet, notes the arrival for the token-recording step to find. Each write is conditional
 * on what the other would have done, so a token stored in between is taken on the next round.
 */
export async function noteCallback(tenantId: string, jobId: string): Promise<CallbackNote> {
  for (let round = 0; round < 3; round++) {
    try {
      const old = await dynamoClient().send(
        new UpdateItemCommand({
          TableName: tableName(),
          Key: taskKey(tenantId, jobId),
          UpdateExpression: 'REMOVE callback_token',
          ConditionExpression: 'attribute_exists(callback_token) AND #status = :processing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': { S: 'processing' } },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const token = old.Attributes?.callback_token?.S;
      if (token) return { kind: 'token', token };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const noted = await conditionalUpdate(tenantId, jobId, {
      update: 'SET callback_arrived_at = :now',
      condition: '#status = :processing AND attribute_not_exists(callback_token)',
      names: { '#status': 'status' },
      values: { ':processing': { S: 'processing' }, ':now': { S: new Date().toISOString() } },
    });
    if (noted) return { kind: 'noted' };
    // Neither held: the task is not processing, or a token was stored between the two writes.
    if ((await taskRepository.get(tenantId, jobId))?.status !== 'processing')
      return { kind: 'not-processing' };
  }
  return { kind: 'not-processing' };
}

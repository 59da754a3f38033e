import { createHash } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { getConfig } from '../config.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import {
  dynamoClient,
  fromItem,
  isConditionalCheckFailed,
  isExpired,
  nowEpochSeconds,
  tableName,
  toItem,
} from '../store/dynamo.ts';

/**
 * `Idempotency-Key` (contract §3): the first request claims the key with a conditional write
 * holding a hash of what was asked and the job id it got; a repeat with the same request gets
 * that job back, a repeat with a different request is a 409.
 */

const MAX_KEY_LENGTH = 255;

export function requestFingerprint(operation: string, body: unknown): string {
  return createHash('sha256')
    .update(`${operation}\n${canonicalJson(body)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function validateIdempotencyKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(trimmed)) {
    throw new ValidationError('Idempotency-Key must be 1-255 visible ASCII characters', [
      { field: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return trimmed;
}

const recordKey = (tenantId: string, key: string) => ({
  pk: { S: `TENANT#${tenantId}` },
  sk: { S: `IDEMPOTENCY#${key}` },
});

export type Claim = { claimed: true } | { claimed: false; jobId: string };

export const idempotencyStore = {
  /** Claims the key for this job, or returns the job that already holds it. */
  async claim(tenantId: string, key: string, fingerprint: string, jobId: string): Promise<Claim> {
    const expiresAt = nowEpochSeconds() + getConfig().IDEMPOTENCY_RETENTION_HOURS * 3600;
    try {
      await dynamoClient().send(
        new PutItemCommand({
          TableName: tableName(),
          Item: {
            ...recordKey(tenantId, key),
            ...toItem({ fingerprint, job_id: jobId, expires_at: expiresAt, entity: 'idempotency' }),
          },
          // An expired record (not yet swept by TTL) may be replaced.
          ConditionExpression: 'attribute_not_exists(pk) OR expires_at <= :now',
          ExpressionAttributeValues: { ':now': { N: String(nowEpochSeconds()) } },
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const existing = await dynamoClient().send(
      new GetItemCommand({ TableName: tableName(), Key: recordKey(tenantId, key), ConsistentRead: true }),
    );
    const record = existing.Item ? fromItem(existing.Item) : undefined;
    if (!record || isExpired(record)) return this.claim(tenantId, key, fingerprint, jobId);
    if (record.fingerprint !== fingerprint) {
      throw new ConflictError('Idempotency-Key was already used with a different request body');
    }
    return { claimed: false, jobId: String(record.job_id) };
  },

  /** Gives the key back when the request it was claimed for could not start. */
  async release(tenantId: string, key: string): Promise<void> {
    await dynamoClient().send(
      new DeleteItemCommand({ TableName: tableName(), Key: recordKey(tenantId, key) }),
    );
  },
};

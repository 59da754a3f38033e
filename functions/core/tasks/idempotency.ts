import { createHash } from 'node:crypto';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
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
 * `Idempotency-Key` (docs/api.md, Generation requests, "Idempotency-Key"): the first request claims the key with a conditional write
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

export type Claim = { claimed: true } | { claimed: false; jobId: string; claimedAt: number | undefined };

export const idempotencyStore = {
  /** Claims the key for this job, or returns the job that already holds it. */
  async claim(tenantId: string, key: string, fingerprint: string, jobId: string): Promise<Claim> {
    const now = nowEpochSeconds();
    const expiresAt = now + getConfig().IDEMPOTENCY_RETENTION_HOURS * 3600;
    try {
      await dynamoClient().send(
        new PutItemCommand({
          TableName: tableName(),
          Item: {
            ...recordKey(tenantId, key),
            ...toItem({
              fingerprint,
              job_id: jobId,
              claimed_at: now,
              expires_at: expiresAt,
              entity: 'idempotency',
            }),
          },
          // An expired record (not yet swept by TTL) may be replaced.
          ConditionExpression: 'attribute_not_exists(pk) OR expires_at <= :now',
          ExpressionAttributeValues: { ':now': { N: String(now) } },
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
    return {
      claimed: false,
      jobId: String(record.job_id),
      claimedAt: typeof record.claimed_at === 'number' ? record.claimed_at : undefined,
    };
  },

  /**
   * Moves a claim whose job was never written (its request died between the claim and the task
   * write, and could not give the key back) to a new job. Conditional on the claim still naming
   * the dead job, so of two requests that both find it, one takes it over and the other sees the
   * new job.
   */
  async takeOver(tenantId: string, key: string, deadJobId: string, jobId: string): Promise<boolean> {
    const now = nowEpochSeconds();
    try {
      await dynamoClient().send(
        new UpdateItemCommand({
          TableName: tableName(),
          Key: recordKey(tenantId, key),
          UpdateExpression: 'SET job_id = :job, claimed_at = :now',
          ConditionExpression: 'job_id = :dead',
          ExpressionAttributeValues: {
            ':job': { S: jobId },
            ':now': { N: String(now) },
            ':dead': { S: deadJobId },
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  },

  /** Gives the key back when the request it was claimed for could not start. */
  async release(tenantId: string, key: string, jobId: string): Promise<void> {
    try {
      await dynamoClient().send(
        new DeleteItemCommand({
          TableName: tableName(),
          Key: recordKey(tenantId, key),
          // Only our own claim: a takeover may have moved the key to another job meanwhile.
          ConditionExpression: 'job_id = :job',
          ExpressionAttributeValues: { ':job': { S: jobId } },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  },
};

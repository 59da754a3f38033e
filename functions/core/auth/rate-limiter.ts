import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { getConfig } from '../config.ts';
import { RateLimitedError, ServiceUnavailableError } from '../errors.ts';
import { logger } from '../logger.ts';
import { dynamoClient, isConditionalCheckFailed, nowEpochSeconds, tableName } from '../store/dynamo.ts';

/**
 * Per-tenant fixed one-minute windows, counted with one conditional UpdateItem per request
 * (atomic across Lambda instances, no transactions needed).
 */

export type RateBucket = 'generation' | 'status';

export async function enforceRateLimit(tenantId: string, bucket: RateBucket): Promise<void> {
  const config = getConfig();
  const limit =
    bucket === 'generation' ? config.RATE_LIMIT_GENERATION_PER_MINUTE : config.RATE_LIMIT_STATUS_PER_MINUTE;
  const now = nowEpochSeconds();
  const windowStart = now - (now % 60);
  try {
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: { pk: { S: `RATE#${tenantId}#${bucket}` }, sk: { S: String(windowStart) } },
        UpdateExpression: 'ADD hits :one SET expires_at = :expires',
        ConditionExpression: 'attribute_not_exists(hits) OR hits < :limit',
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':limit': { N: String(limit) },
          ':expires': { N: String(windowStart + 120) },
        },
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) throw new RateLimitedError(Math.max(1, windowStart + 60 - now));
    logger.error('Rate limit store unavailable', { error_name: (error as Error).name });
    throw new ServiceUnavailableError('The service is temporarily unavailable; please retry shortly');
  }
}

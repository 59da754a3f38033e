import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { getConfig } from '../config.ts';
import { RateLimitedError, ServiceUnavailableError } from '../errors.ts';
import { logger } from '../logger.ts';
import { dynamoClient, isConditionalCheckFailed, nowEpochSeconds, tableName } from '../store/dynamo.ts';

/**
 * Failed `POST /auth/register` attempts, counted per client address, so the registration secret
 * cannot be guessed at without limit. An address's window opens at its first attempt and lasts
 * REGISTRATION_FAILURE_WINDOW_SECONDS; once REGISTRATION_FAILURES_PER_WINDOW attempts in it have
 * failed, every further attempt from that address answers 429 until the window ends, the right
 * secret included (otherwise the answer would still tell a right guess from a wrong one).
 *
 * Every attempt takes a slot before its secret is compared and gives it back when the secret was
 * right. Checking the count first and counting failures afterwards would let a burst of
 * concurrent guesses all be compared; taking the slot first means no more than the limit ever are.
 *
 * One item per address, written only with conditional PutItem/UpdateItem (atomic across Lambda
 * instances). A window that has ended counts as absent: DynamoDB deletes expired items lazily and
 * the local store never does, so the conditions compare `window_ends` with the clock themselves.
 */

export interface RegistrationAttempt {
  address: string;
  /** Epoch seconds at which the window this attempt was counted in ends. */
  windowEnds: number;
}

/** 429 with Retry-After, and a detail that says why. */
export class RegistrationLockedError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.message = `Too many failed registration attempts from this address; retry after ${retryAfterSeconds} seconds`;
  }
}

const attemptsKey = (address: string) => ({
  pk: { S: `REGISTRATION#${address}` },
  sk: { S: 'FAILED_ATTEMPTS' },
});

/**
 * Counts an attempt from `address` before its secret is compared. Throws RegistrationLockedError
 * (429) when the address has used up its failures for the window, ServiceUnavailableError (503)
 * when the store cannot be reached: without the count, guessing would be unlimited.
 */
export async function beginRegistrationAttempt(
  address: string,
  now: number = nowEpochSeconds(),
): Promise<RegistrationAttempt> {
  const config = getConfig();
  const limit = config.REGISTRATION_FAILURES_PER_WINDOW;
  const windowSeconds = config.REGISTRATION_FAILURE_WINDOW_SECONDS;
  try {
    // Two rounds suffice: opening fails only when another attempt has just opened a window that
    // is open at `now`, and the second round counts against it.
    for (let round = 0; round < 2; round++) {
      const open = await countInOpenWindow(address, now);
      if (open) {
        // Counted attempts beyond the limit are never compared, so `hits` may exceed it.
        if (open.hits > limit) throw new RegistrationLockedError(Math.max(1, open.windowEnds - now));
        return { address, windowEnds: open.windowEnds };
      }
      if (await openWindow(address, now, windowSeconds)) return { address, windowEnds: now + windowSeconds };
      // Another attempt from the same address opened a window in between: count against it.
    }
  } catch (error) {
    if (error instanceof RegistrationLockedError) throw error;
    logger.error('Registration attempt store unavailable', { error_name: (error as Error).name });
    throw new ServiceUnavailableError('Registration is temporarily unavailable; please retry shortly');
  }
  throw new ServiceUnavailableError('Registration is temporarily unavailable; please retry shortly');
}

/**
 * The secret was right: the attempt was not a failure, so its slot is given back. Best effort:
 * should this write fail, the address has one failure fewer to spend in this window.
 */
export async function endRegistrationAttempt(attempt: RegistrationAttempt): Promise<void> {
  try {
    await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: attemptsKey(attempt.address),
        UpdateExpression: 'ADD hits :minus_one',
        ConditionExpression: 'window_ends = :window_ends AND hits > :zero',
        ExpressionAttributeValues: {
          ':minus_one': { N: '-1' },
          ':zero': { N: '0' },
          ':window_ends': { N: String(attempt.windowEnds) },
        },
      }),
    );
  } catch (error) {
    // A new window since then starts from zero anyway.
    if (isConditionalCheckFailed(error)) return;
    logger.warn('Could not give back a registration attempt', { error_name: (error as Error).name });
  }
}

/** Adds one to the address's open window; undefined when it has none. */
async function countInOpenWindow(
  address: string,
  now: number,
): Promise<{ hits: number; windowEnds: number } | undefined> {
  try {
    const result = await dynamoClient().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: attemptsKey(address),
        UpdateExpression: 'ADD hits :one',
        ConditionExpression: 'window_ends > :now',
        ExpressionAttributeValues: { ':one': { N: '1' }, ':now': { N: String(now) } },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const hits = Number(result.Attributes?.hits?.N);
    const windowEnds = Number(result.Attributes?.window_ends?.N);
    if (!Number.isFinite(hits) || !Number.isFinite(windowEnds)) {
      throw new Error('The attempt count came back without its count or window');
    }
    return { hits, windowEnds };
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/** Opens a window holding this one attempt, unless another attempt opened one first. */
async function openWindow(address: string, now: number, windowSeconds: number): Promise<boolean> {
  const windowEnds = now + windowSeconds;
  try {
    await dynamoClient().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: {
          ...attemptsKey(address),
          hits: { N: '1' },
          window_ends: { N: String(windowEnds) },
          // DynamoDB's TTL removes the item once the window is over.
          expires_at: { N: String(windowEnds) },
          entity: { S: 'registration_attempts' },
        },
        ConditionExpression: 'attribute_not_exists(pk) OR window_ends <= :now',
        ExpressionAttributeValues: { ':now': { N: String(now) } },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

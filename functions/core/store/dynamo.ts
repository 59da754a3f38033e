import { type AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { getConfig } from '../config.ts';

/**
 * One table holds tasks, API keys, idempotency records and rate-limit counters, each under
 * its own key prefix (`pk`/`sk` strings). `expires_at` (epoch seconds) is the TTL attribute;
 * DynamoDB deletes expired items lazily and the embedded local server not at all, so every
 * read also treats an expired item as absent.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expires_at' } as const;

/**
 * A sparse global secondary index of the tasks that are not done yet: a task carries the
 * `unfinished` attribute (constant value `task`) from its creation until its Supabase rows hold
 * its final status, so the scheduled reconciler finds tasks stuck `pending`/`processing` and rows
 * never brought up to date with one Query, oldest `updated_at` first, without a Scan.
 */
export const UNFINISHED_INDEX = {
  name: 'unfinished',
  partitionKey: 'unfinished',
  sortKey: 'updated_at',
  value: 'task',
} as const;

let client: DynamoDBClient | undefined;

/**
 * One client per process. Every API request makes two or three calls with it, so its fixed cost
 * per call counts (under the local stack's status-read load it was the largest part of the host's
 * time; README, `npm run bench:local`):
 * - `cacheMiddleware`: the SDK resolves each command class's middleware stack once instead of on
 *   every `send`; allowed because nothing here changes a client's middleware after it is made
 *   (option documented in @smithy/core `dist-types/submodules/client/smithy-client/client.d.ts`,
 *   `cacheMiddleware`, checked 2026-12);
 * - the SDK's logger middleware goes: this client keeps the SDK's default no-op logger, with which
 *   that middleware logs nothing and only adds a step to every call (@aws-sdk/core
 *   `dist-cjs/submodules/client/index.js`, `loggerMiddleware`, checked 2026-12);
 * - one request signer for the client's life: without a `signer` option the SDK builds a new
 *   SigV4 signer (copying the whole client configuration) for every request, from the same
 *   credentials provider, region and service name each time (after the first call it reuses the
 *   region and name it resolved then: @aws-sdk/core
 *   `dist-cjs/submodules/httpAuthSchemes/index.js`, `resolveAwsSdkSigV4Config`, checked 2026-12).
 *   The signer asks the credentials provider on every request, so refreshed credentials are still
 *   used; every request is still signed, with the same signature as before.
 * Against a DynamoDB endpoint of our own (DYNAMODB_ENDPOINT: the local stack's dynalite, tests),
 * also without the user-agent headers (nothing reads them there) and without the recursion
 * detection middleware, which adds trace headers only inside a Lambda function (same file,
 * `recursionDetectionMiddleware`). What each call sends and means is otherwise unchanged.
 */
export function dynamoClient(): DynamoDBClient {
  if (client) return client;
  const config = getConfig();
  client = new DynamoDBClient({
    region: config.AWS_REGION,
    ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    maxAttempts: 3,
    cacheMiddleware: true,
  });
  client.middlewareStack.remove('loggerMiddleware');
  const newSigner = client.config.signer;
  let signer: ReturnType<typeof newSigner> | undefined;
  client.config.signer = (authScheme) => {
    // A signer that could not be made is not kept: the next request tries again, as before.
    signer ??= newSigner(authScheme).catch((error: unknown) => {
      signer = undefined;
      throw error;
    });
    return signer;
  };
  if (config.DYNAMODB_ENDPOINT) {
    client.middlewareStack.remove('getUserAgentMiddleware');
    client.middlewareStack.remove('recursionDetectionMiddleware');
  }
  return client;
}

export function resetDynamoClient(): void {
  client?.destroy();
  client = undefined;
}

export function tableName(): string {
  return getConfig().TABLE_NAME;
}

export type Item = Record<string, AttributeValue>;

/**
 * DynamoDB stores numbers of magnitude 1e-130 to 9.99…e125 with up to 38 significant digits
 * (Amazon DynamoDB Developer Guide, "Supported data types and naming rules",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html,
 * checked 2026-12). A JavaScript number prints with at most 17 significant digits, so only the
 * range can be exceeded. A magnitude below 1e-130 is stored as 0: it is what such a value rounds to
 * at DynamoDB's precision, no field of the API gives the difference a meaning, and a client that
 * sent `strength: 1e-200` expects an accepted request, not an error. Magnitudes of 1e126 and
 * above, and non-finite values, have no stored form; the HTTP layer refuses them in request bodies
 * with a 400 naming the field, so meeting one here is a bug and fails loudly.
 */
const SMALLEST_STORABLE_MAGNITUDE = 1e-130;
const LARGEST_STORABLE_MAGNITUDE_EXCLUSIVE = 1e126;

function toNumberString(value: number): string {
  const magnitude = Math.abs(value);
  if (!Number.isFinite(value) || magnitude >= LARGEST_STORABLE_MAGNITUDE_EXCLUSIVE) {
    throw new RangeError(`Cannot store the number ${value} in DynamoDB (magnitude must be below 1e126)`);
  }
  // Also turns -0 into 0.
  if (magnitude < SMALLEST_STORABLE_MAGNITUDE) return '0';
  return String(value);
}

export function toAttribute(value: unknown): AttributeValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: toNumberString(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) {
    return { L: value.map((entry) => toAttribute(entry) ?? { NULL: true }) };
  }
  if (typeof value === 'object') return { M: toItem(value as Record<string, unknown>) };
  throw new TypeError(`Cannot store a ${typeof value} in DynamoDB`);
}

export function toItem(record: Record<string, unknown>): Item {
  const item: Item = {};
  for (const [key, value] of Object.entries(record)) {
    const attribute = toAttribute(value);
    if (attribute) item[key] = attribute;
  }
  return item;
}

export function fromAttribute(attribute: AttributeValue): unknown {
  if (attribute.S !== undefined) return attribute.S;
  if (attribute.N !== undefined) return Number(attribute.N);
  if (attribute.BOOL !== undefined) return attribute.BOOL;
  if (attribute.NULL !== undefined) return null;
  if (attribute.L !== undefined) return attribute.L.map(fromAttribute);
  if (attribute.M !== undefined) return fromItem(attribute.M);
  throw new TypeError('Unsupported DynamoDB attribute type');
}

export function fromItem(item: Item): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [key, attribute] of Object.entries(item)) record[key] = fromAttribute(attribute);
  return record;
}

export function nowEpochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function isExpired(record: Record<string, unknown>): boolean {
  const expiresAt = record[TABLE_KEYS.ttlAttribute];
  return typeof expiresAt === 'number' && expiresAt <= nowEpochSeconds();
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

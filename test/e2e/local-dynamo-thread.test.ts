import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startDynamoThread } from '../../infra/local/dynamo-thread.ts';

/**
 * The local DynamoDB runs on a thread of its own: the same dynalite server on the same files,
 * reached over HTTP. What the host relies on: it answers DynamoDB's API, and `close()` leaves
 * every write on disk for the next start.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-dynamo-thread-'));
const path = join(dataDir, 'dynamodb');

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function clientFor(port: number): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

describe('the DynamoDB thread', () => {
  it('serves DynamoDB and keeps the data across a close and a new start', async () => {
    const first = await startDynamoThread({ path, createTableMs: 0 });
    const client = clientFor(first.port);
    await client.send(
      new CreateTableCommand({
        TableName: 'things',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await client.send(new PutItemCommand({ TableName: 'things', Item: { pk: { S: 'a' }, n: { N: '1' } } }));
    await client.send(
      new UpdateItemCommand({
        TableName: 'things',
        Key: { pk: { S: 'a' } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    client.destroy();
    await first.close();

    const second = await startDynamoThread({ path });
    const again = clientFor(second.port);
    try {
      const read = await again.send(new GetItemCommand({ TableName: 'things', Key: { pk: { S: 'a' } } }));
      expect(read.Item).toEqual({ pk: { S: 'a' }, n: { N: '2' } });
    } finally {
      again.destroy();
      await second.close();
    }
  });
});

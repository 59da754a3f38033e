import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterEach, describe, expect, it } from 'vitest';
import { tableName, toItem, UNFINISHED_INDEX } from '../../functions/core/store/dynamo.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * A local data folder from before the index of unfinished tasks: the local stack gives its table
 * the index (dynalite ignores UpdateTable's index creation, so the table is rebuilt around its
 * items), keeps every item, puts the unfinished tasks in the index, and the reconciler then
 * finishes the one that was left pending.
 */

let stack: TestStack | undefined;
let dataDir = '';

afterEach(async () => {
  await stack?.runner.idle();
  await stack?.stop();
  stack = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

const now = new Date(Date.now() - 3_600_000).toISOString();
const task = (jobId: string, status: string) => ({
  pk: 'TENANT#development_tenant',
  sk: `TASK#${jobId}`,
  entity: 'task',
  tenant_id: 'development_tenant',
  job_id: jobId,
  client_task_id: jobId,
  operation: 'text-to-image',
  provider: 'openai',
  status,
  params: { task_id: jobId, provider: 'openai', prompt: 'an old lamp' },
  created_at: now,
  updated_at: now,
});

/** The table as the local stack made it before the index existed, with a few items. */
async function writeOldTable(): Promise<void> {
  const server = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const TableName = process.env.TABLE_NAME ?? 'makeit3d-bff';
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const items = [
    task('old-pending', 'pending'),
    task('old-complete', 'complete'),
    { pk: 'APIKEY#abc', sk: 'APIKEY#abc', entity: 'api_key', tenant_id: 'kept_tenant' },
  ];
  for (const item of items) await client.send(new PutItemCommand({ TableName, Item: toItem(item) }));
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('a local table made before the index of unfinished tasks', () => {
  it('gets the index, keeps its items, and its pending task is finished by the reconciler', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'makeit3d-index-'));
    await writeOldTable();
    stack = await startTestStack({
      dataDir,
      resumeUnfinished: false,
      env: { STUCK_PENDING_SECONDS: '0' },
    });
    expect(existsSync(join(dataDir, 'dynamodb-rebuild.json'))).toBe(false);

    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: process.env.DYNAMODB_ENDPOINT });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName() }));
    expect(Table?.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.IndexStatus])).toEqual([
      [UNFINISHED_INDEX.name, 'ACTIVE'],
    ]);
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName() }));
    expect(Items.map((item) => item.sk?.S).sort()).toEqual(
      expect.arrayContaining(['APIKEY#abc', 'TASK#old-complete', 'TASK#old-pending']),
    );
    const indexed = await client.send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: UNFINISHED_INDEX.name,
        KeyConditionExpression: '#u = :task',
        ExpressionAttributeNames: { '#u': UNFINISHED_INDEX.partitionKey },
        ExpressionAttributeValues: { ':task': { S: UNFINISHED_INDEX.value } },
      }),
    );
    client.destroy();
    expect(indexed.Items?.map((item) => item.job_id?.S)).toEqual(['old-pending']);

    const report = await stack.reconcileNow();
    expect(report.items).toEqual([{ job_id: 'old-pending', kind: 'pending_task', outcome: 'failed' }]);
    expect((await stack.waitForTask('old-pending')).status).toBe('failed');
  });
});

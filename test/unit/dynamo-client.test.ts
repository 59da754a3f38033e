import { createHash, createHmac } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { dynamoClient, resetDynamoClient } from '../../functions/core/store/dynamo.ts';
import {
  type RecordedRequest,
  type RecordingServer,
  startRecordingServer,
} from '../support/recording-server.ts';

/**
 * The process's DynamoDB client (functions/core/store/dynamo.ts) is set up to cost less per call
 * (one signer for its life, a cached middleware stack, fewer middleware); these check that every
 * request it sends still carries its own valid SigV4 signature, checked here independently of the
 * SDK, against a plain HTTP server standing in for DynamoDB (the network edge).
 */

const ACCESS_KEY_ID = 'AKIDDYNAMOCLIENTTEST';
const SECRET_ACCESS_KEY = 'dynamo-client-test-secret';
const REGION = 'eu-west-2';
const VARIABLES = ['DYNAMODB_ENDPOINT', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

let server: RecordingServer;
let endpoint: string;
let captured: RecordedRequest[];
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  server = await startRecordingServer(() => ({
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({ Item: { pk: { S: 'found' } } }),
  }));
  endpoint = server.url;
  captured = server.received;
  for (const name of VARIABLES) saved.set(name, process.env[name]);
  process.env.AWS_REGION = REGION;
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = SECRET_ACCESS_KEY;
});

afterEach(() => {
  resetDynamoClient();
  resetConfig();
  captured.length = 0;
});

afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetConfig();
  await server.close();
});

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * The signature AWS would expect for a captured request, computed from the SigV4 steps
 * (AWS IAM User Guide, "Create a signed AWS API request",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, checked 2026-12):
 * canonical request, string to sign, signing key derived from the secret, date, region and service.
 */
function expectedSignature(request: RecordedRequest, signedHeaders: string[]): string {
  const amzDate = String(request.headers['x-amz-date']);
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${REGION}/dynamodb/aws4_request`;
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${String(request.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method,
    request.path,
    '',
    canonicalHeaders,
    signedHeaders.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${SECRET_ACCESS_KEY}`, date);
  for (const part of [REGION, 'dynamodb', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

describe('the DynamoDB client', () => {
  it('signs every request with its own valid SigV4 signature', async () => {
    process.env.DYNAMODB_ENDPOINT = endpoint;
    resetConfig();
    const client = dynamoClient();
    for (const key of ['first', 'second', 'third']) {
      const result = await client.send(
        new GetItemCommand({ TableName: 'signing-test', Key: { pk: { S: key }, sk: { S: 'ITEM' } } }),
      );
      expect(result.Item).toEqual({ pk: { S: 'found' } });
    }
    expect(captured).toHaveLength(3);
    const signatures = new Set<string>();
    for (const request of captured) {
      const authorization = String(request.headers.authorization);
      const match =
        /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/dynamodb\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
          authorization,
        );
      expect(match, authorization).not.toBeNull();
      const [, accessKeyId, , region, signedHeaders = '', signature = ''] = match ?? [];
      expect(accessKeyId).toBe(ACCESS_KEY_ID);
      expect(region).toBe(REGION);
      const names = signedHeaders.split(';');
      // What identifies the request is signed: where it goes, which operation, and its body.
      expect(names).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-target']));
      expect(request.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
      expect(signature).toBe(expectedSignature(request, names));
      signatures.add(signature);
    }
    // Each request has a signature of its own (different bodies, fresh invocation ids).
    expect(signatures.size).toBe(3);
  });

  it('leaves out only middleware that adds nothing there, against an endpoint of our own', () => {
    process.env.DYNAMODB_ENDPOINT = endpoint;
    resetConfig();
    const local = dynamoClient().middlewareStack.identify().join('\n');
    for (const kept of ['serializerMiddleware', 'retryMiddleware', 'httpSigningMiddleware', 'deserializer']) {
      expect(local).toContain(kept);
    }
    for (const dropped of ['loggerMiddleware', 'getUserAgentMiddleware', 'recursionDetectionMiddleware']) {
      expect(local).not.toContain(dropped);
    }
    resetDynamoClient();
    delete process.env.DYNAMODB_ENDPOINT;
    resetConfig();
    // Against AWS the user agent and the Lambda trace headers stay.
    const deployed = dynamoClient().middlewareStack.identify().join('\n');
    expect(deployed).toContain('getUserAgentMiddleware');
    expect(deployed).toContain('recursionDetectionMiddleware');
    expect(deployed).not.toContain('loggerMiddleware');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resetConfig } from '../../functions/core/config.ts';
import { resetDynamoClient } from '../../functions/core/store/dynamo.ts';

/**
 * A fault proxy in front of the embedded DynamoDB: the network edge between the handlers and the
 * table. Requests pass through unchanged unless a rule matches the operation (`PutItem`,
 * `DeleteItem`, …) and a string in the JSON body (a key prefix such as `TASK#`); a matching
 * request answers DynamoDB's own 500 `InternalServerError`, the way a failing table answers.
 */
export interface DynamoFaultRule {
  operation: string;
  /** The request body must contain this text (e.g. `"TASK#` or `IDEMPOTENCY#`). */
  contains: string;
}

export interface DynamoFaults {
  /** Rules in force; replace or clear them between steps of a test. */
  rules: DynamoFaultRule[];
  /** Requests that were answered with the injected failure. */
  failed: { operation: string; body: string }[];
  /** Points the handlers back at the table itself and closes the proxy. */
  close(): Promise<void>;
}

/** Starts the proxy and points the handlers (this process's DynamoDB client) at it. */
export async function injectDynamoFaults(): Promise<DynamoFaults> {
  const target = process.env.DYNAMODB_ENDPOINT;
  if (!target) throw new Error('DYNAMODB_ENDPOINT is not set: start the local stack first');
  const faults: DynamoFaults = { rules: [], failed: [], close: async () => undefined };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation =
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      const text = body.toString('utf8');
      if (faults.rules.some((rule) => rule.operation === operation && text.includes(rule.contains))) {
        faults.failed.push({ operation, body: text });
        response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
            message: 'Internal server error (injected)',
          }),
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && key !== 'host' && key !== 'connection') headers[key] = value;
      }
      fetch(`${target}${request.url ?? '/'}`, { method: request.method ?? 'POST', headers, body })
        .then(async (answer) => {
          const answerHeaders: Record<string, string> = {};
          answer.headers.forEach((value, key) => {
            if (key !== 'content-length' && key !== 'transfer-encoding' && key !== 'connection')
              answerHeaders[key] = value;
          });
          const bytes = Buffer.from(await answer.arrayBuffer());
          response.writeHead(answer.status, answerHeaders);
          response.end(bytes);
        })
        .catch(() => response.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const point = (endpoint: string) => {
    process.env.DYNAMODB_ENDPOINT = endpoint;
    resetConfig();
    resetDynamoClient();
  };
  point(`http://127.0.0.1:${port}`);
  faults.close = async () => {
    point(target);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return faults;
}

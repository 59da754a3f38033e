import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * X-Ray subsegments around provider calls, from the real workflow steps run by the local stack,
 * with the environment Lambda gives a traced function (AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT, a
 * sampled _X_AMZN_TRACE_ID) and the X-Ray daemon's address pointed at a UDP socket of this test:
 * the network edge, where the daemon would receive the subsegment documents.
 */

interface TraceDocument {
  id: string;
  name: string;
  namespace?: string;
  trace_id?: string;
  parent_id?: string;
  annotations?: Record<string, string>;
  fault?: boolean;
  error?: boolean;
  cause?: { exceptions?: { message?: string; type?: string }[] };
  http?: { request?: { url?: string } };
}

const TRACE_ROOT = '1-6b0fc9e2-366ffa001ac3b9d5d125480f';
const PARENT = '53995c3f42cd8ad8';

let stack: TestStack;
let daemon: Socket;
const documents: TraceDocument[] = [];
const listeners = new Set<() => void>();

/** Resolves once a received document satisfies `test` (each datagram wakes the waiters). */
function received(test: (document: TraceDocument) => boolean): Promise<TraceDocument> {
  return new Promise((resolve) => {
    const check = () => {
      const found = documents.find(test);
      if (!found) return;
      listeners.delete(check);
      resolve(found);
    };
    listeners.add(check);
    check();
  });
}

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    // Each datagram: a header line, then one JSON segment document.
    const [, body] = message.toString('utf8').split('\n');
    if (body) documents.push(JSON.parse(body) as TraceDocument);
    for (const listener of [...listeners]) listener();
  });
  await new Promise<void>((done) => daemon.bind(0, '127.0.0.1', () => done()));
  stack = await startTestStack({
    env: {
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: '/var/task',
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${PARENT};Sampled=1`,
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((done) => daemon?.close(() => done()));
});

async function generate(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await stack.call(`/generation/${operation}`, { body });
  expect(response.status).toBe(202);
  const { celery_task_id: jobId } = (await response.json()) as { celery_task_id: string };
  return stack.waitForTask(jobId);
}

describe('provider calls in Lambda', () => {
  it('each run in a subsegment named for the provider and phase, annotated with operation and provider', async () => {
    expect(
      await generate('text-to-image', {
        task_id: 'trace-openai',
        provider: 'openai',
        prompt: 'a lamp',
        n: 1,
      }),
    ).toMatchObject({ status: 'complete' });
    expect(
      await generate('text-to-model', { task_id: 'trace-tripo', provider: 'tripo', prompt: 'a chair' }),
    ).toMatchObject({ status: 'complete' });

    const run = await received((document) => document.name === 'openai run');
    expect(run).toMatchObject({
      trace_id: TRACE_ROOT,
      parent_id: PARENT,
      annotations: { operation: 'text-to-image', provider: 'openai', phase: 'run' },
    });
    expect(run.fault ?? false).toBe(false);
    // Powertools traces the HTTP call to the provider inside it (streamed as a document of its own).
    const call = await received(
      (document) =>
        document.parent_id === run.id && (document.http?.request?.url ?? '').includes('/__sandbox/openai/'),
    );
    expect(call).toMatchObject({ namespace: 'remote', trace_id: TRACE_ROOT });

    expect(await received((document) => document.name === 'tripo submit')).toMatchObject({
      annotations: { operation: 'text-to-model', provider: 'tripo', phase: 'submit' },
    });
    expect(await received((document) => document.name === 'tripo poll')).toMatchObject({
      annotations: { operation: 'text-to-model', provider: 'tripo', phase: 'poll' },
    });
  });

  it('record the error of a failed call', async () => {
    await stack.fault('openai', { status: 400, times: 1 });
    expect(
      await generate('text-to-image', {
        task_id: 'trace-refused',
        provider: 'openai',
        prompt: 'a vase',
        n: 1,
      }),
    ).toMatchObject({ status: 'failed', error_code: 'provider_rejected' });
    const failed = await received((document) => document.name === 'openai run' && document.fault === true);
    expect(failed.cause?.exceptions?.[0]).toMatchObject({ type: 'ProviderRejectedError' });
    expect(failed.cause?.exceptions?.[0]?.message).toMatch(/OpenAI rejected the request \(HTTP 400/);
  });
});

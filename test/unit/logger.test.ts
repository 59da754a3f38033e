import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler as health } from '../../functions/api/health.ts';
import { describeError, invocationLogger, logger } from '../../functions/core/logger.ts';
import {
  countTaskFailure,
  METRIC,
  MetricUnit,
  putMetric,
  SERVICE_FAILURE_CODES,
} from '../../functions/core/observability/metrics.ts';
import { REDACTED, redactSecretValue, redactText } from '../../functions/core/observability/redaction.ts';
import { traced } from '../../functions/core/observability/tracing.ts';
import { PNG_SIGNATURE, samplePng } from '../support/local-stack.ts';
import { captureOutput, type LogCapture } from '../support/log-capture.ts';

/**
 * The service's logger (Powertools Logger underneath), its redaction, the metrics helpers and
 * the tracing helper outside Lambda, all through the real modules and the process's real stdout
 * and stderr (captured).
 */

const VARIABLES = [
  'LOG_LEVEL',
  'POWERTOOLS_LOG_LEVEL',
  'POWERTOOLS_METRICS_DISABLED',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'UNIT_PROVIDER_API_KEY',
];
let saved: Record<string, string | undefined>;
let capture: LogCapture;

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  process.env.LOG_LEVEL = 'debug';
  capture = captureOutput();
});

afterEach(() => {
  capture.stop();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

function lambdaContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'makeit3d-health',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:makeit3d-health',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/makeit3d-health',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function healthEvent(requestId: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'GET /health',
    rawPath: '/health',
    rawQueryString: '',
    headers: { 'x-api-key': 'makeit3d_live_sk_custom_headerKeyThatMustNotBeLogged' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'example.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'example',
      http: {
        method: 'GET',
        path: '/health',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.9',
        userAgent: 'test',
      },
      requestId,
      routeKey: 'GET /health',
      stage: '$default',
      time: '02/Dec/2026:10:00:00 +0000',
      timeEpoch: 1796205600000,
    },
    isBase64Encoded: false,
  };
}

/** A gate a test opens by hand: interleaves two invocations without any timer. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open: () => open() };
}

// First in the file: the cold start belongs to the first invocation this process sees.
describe('an API invocation', () => {
  it('writes lines with the Lambda request id, cold start on the first invocation only, the request id and route', async () => {
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    const first = await health(healthEvent('api-request-1'), lambdaContext('lambda-request-1'));
    const second = await health(healthEvent('api-request-2'), lambdaContext('lambda-request-2'));
    expect(first.statusCode).toBe(200);
    expect(second.headers?.['x-request-id']).toBe('api-request-2');

    const answered = capture.records().filter((line) => line.message === 'Request answered');
    expect(answered).toHaveLength(2);
    expect(answered[0]).toMatchObject({
      level: 'DEBUG',
      service: 'makeit3d-bff',
      function_request_id: 'lambda-request-1',
      function_name: 'makeit3d-health',
      cold_start: true,
      request_id: 'api-request-1',
      route: 'GET /health',
      status: 200,
    });
    expect(answered[1]).toMatchObject({
      function_request_id: 'lambda-request-2',
      cold_start: false,
      request_id: 'api-request-2',
    });
    expect(typeof answered[0]?.timestamp).toBe('string');
    expect(capture.lines().join('\n')).not.toContain('headerKeyThatMustNotBeLogged');
  });
});

describe('log lines', () => {
  it('are JSON with level, message, timestamp and service, at the level LOG_LEVEL names in any case', () => {
    process.env.LOG_LEVEL = 'warn';
    logger.info('not written');
    logger.warn('written', { job_id: 'job-1' });
    process.env.LOG_LEVEL = 'DEBUG';
    logger.debug('written too');
    process.env.LOG_LEVEL = 'silent';
    logger.error('silent writes nothing');

    const records = capture.records();
    expect(records.map((line) => line.message)).toEqual(['written', 'written too']);
    expect(records[0]).toMatchObject({ level: 'WARN', service: 'makeit3d-bff', job_id: 'job-1' });
    expect(Date.parse(String(records[0]?.timestamp))).not.toBeNaN();
    expect(capture.lines()).toHaveLength(2);
  });

  it('take POWERTOOLS_LOG_LEVEL over LOG_LEVEL', () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    logger.warn('below ERROR');
    logger.error('at ERROR', describeError(new TypeError('boom')));
    const records = capture.records();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ message: 'at ERROR', error_name: 'TypeError', error_message: 'boom' });
  });

  it('of concurrent invocations keep their own keys, also when written through the module logger', async () => {
    const a = invocationLogger(lambdaContext('lambda-a'), { job_id: 'job-a' });
    const b = invocationLogger(lambdaContext('lambda-b'), { job_id: 'job-b' });
    const aMayGoOn = gate();
    const bMayGoOn = gate();
    const runA = a.run(async () => {
      logger.appendKeys({ tenant_id: 'tenant-a' });
      await aMayGoOn.wait;
      logger.info('from a');
    });
    const runB = b.run(async () => {
      logger.appendKeys({ tenant_id: 'tenant-b' });
      aMayGoOn.open();
      await bMayGoOn.wait;
      logger.info('from b');
    });
    await runA;
    bMayGoOn.open();
    await runB;
    logger.info('outside');

    const byMessage = new Map(capture.records().map((line) => [line.message, line]));
    expect(byMessage.get('from a')).toMatchObject({
      function_request_id: 'lambda-a',
      job_id: 'job-a',
      tenant_id: 'tenant-a',
    });
    expect(byMessage.get('from b')).toMatchObject({
      function_request_id: 'lambda-b',
      job_id: 'job-b',
      tenant_id: 'tenant-b',
    });
    expect(byMessage.get('outside')).not.toHaveProperty('job_id');
    expect(byMessage.get('outside')).not.toHaveProperty('function_request_id');
  });

  it('of a child carry its keys and its parent’s; keys cannot be added outside an invocation', async () => {
    const parent = invocationLogger(undefined, { step: 'RunProvider' });
    parent.child({ attempt: 2 }).info('child line');
    expect(() => logger.appendKeys({ tenant_id: 'nobody' })).toThrow(/invocation logger/);
    expect(capture.records()[0]).toMatchObject({ message: 'child line', step: 'RunProvider', attempt: 2 });
  });
});

describe('redaction', () => {
  it('replaces the values of credential and body keys, at any depth', () => {
    logger.info('request', {
      'x-api-key': 'makeit3d_live_sk_custom_aaaaaaaaaaaaaaaa',
      headers: { Authorization: 'Bearer provider-token-value', 'x-key': 'bfl-key-value-123' },
      verification_secret: 'the-registration-secret',
      OPENAI_API_KEY: 'sk-openai-value-123',
      service_key: 'supabase-service-value',
      body: '{"prompt":"a cat"}',
      b64_json: 'aGVsbG8=',
      nested: [{ password: 'pw-value-123', api_key: 'plain-api-key-value' }],
    });
    const line = capture.lines()[0] ?? '';
    for (const secret of [
      'aaaaaaaaaaaaaaaa',
      'provider-token-value',
      'bfl-key-value-123',
      'the-registration-secret',
      'sk-openai-value-123',
      'supabase-service-value',
      'a cat',
      'aGVsbG8=',
      'pw-value-123',
      'plain-api-key-value',
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(capture.records()[0]).toMatchObject({
      'x-api-key': REDACTED,
      headers: { Authorization: REDACTED, 'x-key': REDACTED },
      verification_secret: REDACTED,
      body: '[body: 18 chars]',
    });
  });

  it('scrubs secrets, keys, tokens and inline images from any text, the message included', () => {
    process.env.UNIT_PROVIDER_API_KEY = 'tsk_unit-provider-key-value';
    redactSecretValue('secret-from-secrets-manager');
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXZhbHVl';
    logger.warn('Provider said: invalid key tsk_unit-provider-key-value', {
      error_message: `denied for secret-from-secrets-manager and makeit3d_test_sk_dev_001 (Authorization: Bearer abc.def-ghi) ${jwt}`,
      url: 'https://user:pa55word@example.com/v1/x?token=signed-token-value&width=2',
      image: `data:image/png;base64,${'iVBORw0KGgo'.repeat(20)}`,
    });
    const line = capture.lines()[0] ?? '';
    for (const secret of [
      'tsk_unit-provider-key-value',
      'secret-from-secrets-manager',
      'makeit3d_test_sk_dev_001',
      'abc.def-ghi',
      jwt,
      'pa55word',
      'signed-token-value',
      'iVBORw0KGgo',
    ]) {
      expect(line).not.toContain(secret);
    }
    const record = capture.records()[0];
    expect(record?.message).toBe(`Provider said: invalid key ${REDACTED}`);
    expect(record?.url).toBe(`https://${REDACTED}@example.com/v1/x?token=${REDACTED}&width=2`);
  });

  it('never writes image bytes: buffers, base64 runs, or bytes decoded as text', async () => {
    const png = await samplePng(32, 32);
    const base64 = png.toString('base64');
    logger.error('bytes', {
      buffer: png,
      view: new Uint8Array(png),
      encoded: `prefix ${base64} suffix`,
      latin1: png.toString('latin1'),
      utf8: png.toString('utf8'),
    });
    const line = capture.lines()[0] ?? '';
    expect(line).not.toContain(base64.slice(0, 32));
    expect(line).not.toContain(PNG_SIGNATURE.toString('latin1'));
    expect(line).not.toContain('PNG\\r\\n\\u001a\\n');
    expect(capture.records()[0]).toMatchObject({
      buffer: `[binary: ${png.length} bytes]`,
      view: `[binary: ${png.length} bytes]`,
      encoded: `prefix [base64: ${base64.length} chars] suffix`,
    });
  });

  it('leaves the service’s own text alone: ids, paths, URLs, sentences', () => {
    const text =
      'Task wf-12-1796205600000 of development_tenant stored at http://localhost:8000/storage/v1/object/public/makeit3d-app-assets/development_tenant/wf-12/e5f0c1d2-3b4a-4c5d-8e9f-0a1b2c3d4e5f/0.png; retrying may help';
    expect(redactText(text)).toBe(text);
  });

  it('shortens very long text', () => {
    const long = 'word '.repeat(2000);
    expect(redactText(long).length).toBeLessThan(long.length);
    expect(redactText(long)).toMatch(/more chars\]$/);
  });
});

describe('metrics', () => {
  function emf(): Record<string, unknown>[] {
    return capture.records().filter((line) => '_aws' in line);
  }

  it('writes one EMF line per metric with exactly its dimensions and the service', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    putMetric(
      METRIC.ProviderLatency,
      { provider: 'openai', operation: 'text-to-image' },
      1234,
      MetricUnit.Milliseconds,
    );
    expect(capture.lines()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'MakeIt3D/BFF',
            Dimensions: [['service', 'provider', 'operation']],
            Metrics: [{ Name: 'ProviderLatency', Unit: 'Milliseconds' }],
          },
        ],
      },
      service: 'makeit3d-bff',
      provider: 'openai',
      operation: 'text-to-image',
      ProviderLatency: 1234,
    });
  });

  it('count ServiceFailure only for the service’s own failures', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    expect([...SERVICE_FAILURE_CODES].sort()).toEqual(['internal', 'provider_unavailable']);
    countTaskFailure({ operation: 'text-to-image', provider: 'openai' }, 'content_moderated');
    countTaskFailure({ operation: 'text-to-image', provider: 'openai' }, 'provider_unavailable');
    const names = emf().map((line) => Object.keys(line).find((key) => /^[A-Z]/.test(key)));
    expect(names).toEqual(['TaskFailed', 'TaskFailed', 'ServiceFailure']);
    expect(emf()[0]).toMatchObject({ error_code: 'content_moderated' });
    expect(emf()[2]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service']] }] },
      service: 'makeit3d-bff',
    });
  });

  it('keep an empty dimension as unknown, never fail the caller, and are off when disabled', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    putMetric(METRIC.TaskSubmitted, { operation: 'text-to-image', provider: '' });
    expect(() => putMetric(METRIC.ResultBytes, { operation: 'x', provider: 'y' }, Number.NaN)).not.toThrow();
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    putMetric(METRIC.TaskSubmitted, { operation: 'text-to-image', provider: 'openai' });
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ provider: 'unknown', TaskSubmitted: 1 });
    expect(capture.records().find((line) => line.message === 'Metric not written')).toMatchObject({
      level: 'WARN',
      metric: 'ResultBytes',
    });
  });
});

describe('tracing outside Lambda', () => {
  it('runs the work as it is: same result, same error, nothing written', async () => {
    const annotations = { operation: 'text-to-image', provider: 'openai', phase: 'run' };
    await expect(traced('openai run', annotations, async () => 42)).resolves.toBe(42);
    const failure = new RangeError('provider failed');
    await expect(
      traced('openai run', annotations, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(capture.lines()).toEqual([]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED } from '../../functions/core/observability/redaction.ts';
import {
  PNG_SIGNATURE,
  samplePng,
  startTestStack,
  TEST_KEY,
  type TestStack,
} from '../support/local-stack.ts';
import { captureOutput, type LogCapture } from '../support/log-capture.ts';

/**
 * No secret, API key or image bytes reach a log line, over real paths through the local stack
 * (the handlers behind the local gateway, the real ASL, the simulators over HTTP), with every
 * line the process writes captured at LOG_LEVEL=debug and the EMF metrics on: a registration
 * (with the verification secret, and with a wrong one), submits with the issued X-API-Key, an
 * asynchronous Tripo job with its key, an OpenAI edit of an uploaded image, a Flux edit whose
 * provider answers an error quoting the key and the image it was sent, and an OpenAI outage.
 * The lines are also checked for what they must carry, and the metrics for what they count.
 */

/** Stands in for BFL's API (the network edge): refuses every create, quoting its key and input. */
const PROBE_BFL_KEY = 'bfl-probe-key-6f1d2c3b4a59';

async function startQuotingProvider(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { input_image?: string };
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          detail: `Key ${String(request.headers['x-key'])} is not valid for input_image ${String(body.input_image).slice(0, 120)}`,
        }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let stack: TestStack;
let capture: LogCapture;
let quoting: { url: string; server: Server };
let input: Buffer;
let apiKey: string;
let tenantId: string;
const jobs: Record<'tripo' | 'openai' | 'flux' | 'outage', string> = {
  tripo: '',
  openai: '',
  flux: '',
  outage: '',
};
const WRONG_SECRET = 'wrong-registration-secret-7d2e';

async function submit(operation: string, body: Record<string, unknown>): Promise<string> {
  const response = await stack.call(`/generation/${operation}`, { body, apiKey });
  expect(response.status).toBe(202);
  return ((await response.json()) as { celery_task_id: string }).celery_task_id;
}

beforeAll(async () => {
  quoting = await startQuotingProvider();
  capture = captureOutput();
  stack = await startTestStack({
    env: {
      LOG_LEVEL: 'debug',
      POWERTOOLS_METRICS_DISABLED: 'false',
      BFL_API_KEY: PROBE_BFL_KEY,
      BFL_BASE_URL: quoting.url,
    },
  });
  input = await samplePng(96, 96, 7);
  const inputUrl = await stack.upload('uploads/log-redaction/input.png', input, 'image/png');

  const refused = await stack.call('/auth/register', {
    apiKey: null,
    body: { verification_secret: WRONG_SECRET, tenant_type: 'custom', tenant_identifier: 'log-probe' },
  });
  expect(refused.status).toBe(401);
  const registered = await stack.call('/auth/register', {
    apiKey: null,
    body: {
      verification_secret: stack.registrationSecret,
      tenant_type: 'custom',
      tenant_identifier: 'log-probe',
    },
  });
  expect(registered.status).toBe(201);
  ({ api_key: apiKey, tenant_id: tenantId } = (await registered.json()) as {
    api_key: string;
    tenant_id: string;
  });

  jobs.tripo = await submit('text-to-model', {
    task_id: 'log-tripo',
    provider: 'tripo',
    prompt: 'a small castle',
  });
  expect(await stack.waitForTask(jobs.tripo, apiKey)).toMatchObject({ status: 'complete' });
  jobs.openai = await submit('image-to-image', {
    task_id: 'log-openai',
    provider: 'openai',
    prompt: 'make it blue',
    input_image_asset_url: inputUrl,
    n: 1,
  });
  expect(await stack.waitForTask(jobs.openai, apiKey)).toMatchObject({ status: 'complete' });
  jobs.flux = await submit('image-to-image', {
    task_id: 'log-flux',
    provider: 'flux',
    prompt: 'make it red',
    input_image_asset_url: inputUrl,
  });
  expect(await stack.waitForTask(jobs.flux, apiKey)).toMatchObject({
    status: 'failed',
    error_code: 'provider_rejected',
  });
  await stack.fault('openai', { status: 503, times: 10 });
  jobs.outage = await submit('text-to-image', {
    task_id: 'log-outage',
    provider: 'openai',
    prompt: 'a boat',
    n: 1,
  });
  expect(await stack.waitForTask(jobs.outage, apiKey)).toMatchObject({
    status: 'failed',
    error_code: 'provider_unavailable',
  });
});

afterAll(async () => {
  await stack?.stop();
  capture?.stop();
  await new Promise((done) => quoting?.server.close(done));
});

const logLines = () => capture.records().filter((line) => !('_aws' in line));
const metricLines = () => capture.records().filter((line) => '_aws' in line);

describe('log lines of real paths', () => {
  it('hold no API key, registration secret, provider key, service key or image bytes', () => {
    const text = capture.lines().join('\n');
    expect(capture.lines().length).toBeGreaterThan(50);
    const forbidden = {
      'issued API key': apiKey,
      'test API key': TEST_KEY,
      'registration secret': stack.registrationSecret,
      'wrong registration secret': WRONG_SECRET,
      'BFL key': PROBE_BFL_KEY,
      'Tripo sandbox key': 'tsk_sandbox',
      'Supabase service key': String(process.env.SUPABASE_SERVICE_KEY),
      // 30 bytes are 10 whole base64 groups: a prefix of the whole file's base64 wherever it went.
      'input image as base64': input.subarray(0, 30).toString('base64'),
      'PNG signature (bytes as latin1)': PNG_SIGNATURE.toString('latin1'),
      'PNG signature (bytes as UTF-8)': PNG_SIGNATURE.toString('utf8'),
      'PNG signature (JSON-escaped)': 'PNG\\r\\n\\u001a\\n',
    };
    for (const [what, value] of Object.entries(forbidden)) {
      expect(value.length, what).toBeGreaterThan(7);
      expect(text.includes(value), `${what} in a log line`).toBe(false);
    }
  });

  it('redacted the key and the image the provider quoted back (the safeguard, not luck)', () => {
    const failed = logLines().find((line) => line.message === 'Step failed' && line.job_id === jobs.flux);
    expect(failed).toMatchObject({
      step: 'SubmitProviderJob',
      operation: 'image-to-image',
      provider: 'flux',
    });
    expect(String(failed?.error_message)).toContain(`Key ${REDACTED} is not valid for input_image [base64:`);
  });

  it('are all JSON with level, message, timestamp and service', () => {
    // Node's own process warnings are not the service's lines.
    const lines = capture.lines().filter((line) => !/^\((node:\d+|Use `node)/.test(line));
    expect(capture.records()).toHaveLength(lines.length);
    for (const line of logLines()) {
      expect(line).toMatchObject({ service: 'makeit3d-bff' });
      expect(['DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(line.level);
      expect(typeof line.message).toBe('string');
      expect(Date.parse(String(line.timestamp))).not.toBeNaN();
    }
  });

  it('of a submit carry the Lambda request id, cold start, request id, route, tenant, job, operation and provider', () => {
    const answered = logLines().find(
      (line) => line.message === 'Request answered' && line.job_id === jobs.tripo && line.status === 202,
    );
    expect(answered).toMatchObject({
      route: 'POST /generation/{operation}',
      tenant_id: tenantId,
      operation: 'text-to-model',
      provider: 'tripo',
      cold_start: false,
    });
    expect(answered?.function_request_id).toEqual(expect.any(String));
    expect(answered?.request_id).toEqual(expect.any(String));
    expect(answered?.function_request_id).not.toBe(answered?.request_id);
    expect(
      logLines().find((line) => line.message === 'Task accepted' && line.job_id === jobs.tripo),
    ).toMatchObject({
      tenant_id: tenantId,
      request_id: answered?.request_id,
    });
  });

  it('of a workflow step carry the step, tenant, job, operation and provider', () => {
    const steps = logLines().filter((line) => line.message === 'Step finished' && line.job_id === jobs.tripo);
    expect(steps.map((line) => line.step)).toEqual(
      expect.arrayContaining(['MarkTaskProcessing', 'SubmitProviderJob', 'PollProviderJob', 'CompleteTask']),
    );
    for (const line of steps) {
      expect(line).toMatchObject({ tenant_id: tenantId, operation: 'text-to-model', provider: 'tripo' });
    }
  });
});

describe('metrics of the same paths', () => {
  function metric(name: string, dimensions: Record<string, string>): Record<string, unknown>[] {
    return metricLines().filter(
      (line) => name in line && Object.entries(dimensions).every(([key, value]) => line[key] === value),
    );
  }

  it('count submitted, completed and failed tasks by operation, provider and error code', () => {
    expect(metric('TaskSubmitted', { operation: 'text-to-model', provider: 'tripo' })).toHaveLength(1);
    expect(metric('TaskSubmitted', { operation: 'image-to-image', provider: 'openai' })).toHaveLength(1);
    expect(metric('TaskCompleted', { operation: 'text-to-model', provider: 'tripo' })).toHaveLength(1);
    expect(metric('TaskCompleted', { operation: 'image-to-image', provider: 'openai' })).toHaveLength(1);
    expect(
      metric('TaskFailed', {
        operation: 'image-to-image',
        provider: 'flux',
        error_code: 'provider_rejected',
      }),
    ).toHaveLength(1);
    expect(
      metric('TaskFailed', {
        operation: 'text-to-image',
        provider: 'openai',
        error_code: 'provider_unavailable',
      }),
    ).toHaveLength(1);
  });

  it('count a ServiceFailure for the outage only, not for the provider’s refusal', () => {
    const failures = metric('ServiceFailure', {});
    expect(failures).toHaveLength(1);
    expect(failures[0]?._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: 'MakeIt3D/BFF', Dimensions: [['service']] }],
    });
  });

  it('time every provider call and weigh the stored results', () => {
    // Tripo: one create and at least one poll; OpenAI: one run; Flux: the refused create.
    expect(
      metric('ProviderLatency', { provider: 'tripo', operation: 'text-to-model' }).length,
    ).toBeGreaterThan(1);
    expect(
      metric('ProviderLatency', { provider: 'openai', operation: 'image-to-image' }).length,
    ).toBeGreaterThan(0);
    // A refused paid create is never sent again.
    expect(metric('ProviderLatency', { provider: 'flux', operation: 'image-to-image' })).toHaveLength(1);
    for (const line of metric('ProviderLatency', {})) {
      expect(line._aws).toMatchObject({ CloudWatchMetrics: [{ Metrics: [{ Unit: 'Milliseconds' }] }] });
    }
    const bytes = metric('ResultBytes', { operation: 'image-to-image', provider: 'openai' });
    expect(bytes).toHaveLength(1);
    expect(bytes[0]?.ResultBytes).toBeGreaterThan(1000);
  });
});

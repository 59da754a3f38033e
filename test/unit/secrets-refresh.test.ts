import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  getSecret,
  isUnsetSecret,
  requireSecret,
  resetConfig,
  SECRET_PLACEHOLDER,
  secretTiming,
} from '../../functions/core/config.ts';
import { withProviderFetch } from '../../functions/core/providers/http-client.ts';
import { openaiClient, resetOpenaiClient } from '../../functions/core/providers/openai/client.ts';

/**
 * Secrets re-read after SECRETS_TTL_SECONDS, never kept blank, a failed read never kept: against
 * a local server that answers Secrets Manager's GetSecretValue (the AWS SDK pointed at it through
 * SECRETS_MANAGER_ENDPOINT: the network edge). The cache's clock is moved, never waited for.
 */

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:makeit3d-bff/test/DEMO_KEY-AbCdEf';
const OPENAI_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:makeit3d-bff/test/OPENAI_API_KEY-x';

/** What the fake Secrets Manager holds and how it answers. */
const secrets = new Map<string, string>();
let reads: string[] = [];
let failing = false;
let server: Server;
let clock = 1_000_000;
const environmentBefore = { ...process.env };
const nowBefore = secretTiming.now;

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
      const answer = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(payload));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        answer(400, { __type: 'InvalidRequestException', message: `unexpected ${target}` });
        return;
      }
      reads.push(String(body.SecretId));
      if (failing) {
        answer(500, { __type: 'InternalServiceError', message: 'Secrets Manager is unavailable (injected)' });
        return;
      }
      const value = secrets.get(String(body.SecretId));
      if (value === undefined) {
        answer(400, {
          __type: 'ResourceNotFoundException',
          message: 'Secrets Manager can’t find the secret',
        });
        return;
      }
      answer(200, {
        ARN: body.SecretId,
        Name: 'makeit3d-bff/test/DEMO_KEY',
        SecretString: value,
        VersionId: 'v',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  secrets.clear();
  reads = [];
  failing = false;
  clock = 1_000_000;
  secretTiming.now = () => clock;
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    SECRETS_MANAGER_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    DEMO_KEY_SECRET_ARN: ARN,
  });
  delete process.env.DEMO_KEY;
  delete process.env.SECRETS_TTL_SECONDS;
  resetConfig();
  resetOpenaiClient();
});

afterEach(() => {
  secretTiming.now = nowBefore;
  for (const key of Object.keys(process.env)) if (!(key in environmentBefore)) delete process.env[key];
  Object.assign(process.env, environmentBefore);
  resetConfig();
  resetOpenaiClient();
});

const minutes = (count: number) => count * 60_000;

describe('a secret put after the deploy', () => {
  it('reads the placeholder the stack creates as unset, and names the secret when it is required', async () => {
    expect(SECRET_PLACEHOLDER).toBe(' ');
    expect(isUnsetSecret(SECRET_PLACEHOLDER)).toBe(true);
    secrets.set(ARN, SECRET_PLACEHOLDER);
    expect(await getSecret('DEMO_KEY')).toBeUndefined();
    await expect(requireSecret('DEMO_KEY')).rejects.toThrow(
      'Missing configuration: set the DEMO_KEY (or DEMO_KEY_SECRET_ARN) environment variable',
    );
  });

  it('is used on the very next call once filled: a blank value is never kept', async () => {
    secrets.set(ARN, SECRET_PLACEHOLDER);
    expect(await getSecret('DEMO_KEY')).toBeUndefined();
    expect(await getSecret('DEMO_KEY')).toBeUndefined();
    secrets.set(ARN, 'sk-filled');
    // Same instant: no TTL has to pass.
    expect(await getSecret('DEMO_KEY')).toBe('sk-filled');
    expect(reads).toHaveLength(3);
  });

  it('reads a value trimmed, and an emptied secret as unset again', async () => {
    secrets.set(ARN, '  sk-padded \n');
    expect(await getSecret('DEMO_KEY')).toBe('sk-padded');
    secrets.set(ARN, '');
    clock += minutes(6);
    expect(await getSecret('DEMO_KEY')).toBeUndefined();
  });
});

describe('a rotated secret', () => {
  it('keeps the value for SECRETS_TTL_SECONDS (default 300), then reads the new one', async () => {
    secrets.set(ARN, 'sk-first');
    expect(await getSecret('DEMO_KEY')).toBe('sk-first');
    secrets.set(ARN, 'sk-rotated');
    clock += 299_999;
    expect(await getSecret('DEMO_KEY')).toBe('sk-first');
    expect(reads).toHaveLength(1);
    clock += 1;
    expect(await getSecret('DEMO_KEY')).toBe('sk-rotated');
    expect(reads).toHaveLength(2);
  });

  it('follows SECRETS_TTL_SECONDS, and 0 reads the secret on every use', async () => {
    process.env.SECRETS_TTL_SECONDS = '60';
    resetConfig();
    secrets.set(ARN, 'sk-first');
    await getSecret('DEMO_KEY');
    secrets.set(ARN, 'sk-rotated');
    clock += 59_999;
    expect(await getSecret('DEMO_KEY')).toBe('sk-first');
    clock += 1;
    expect(await getSecret('DEMO_KEY')).toBe('sk-rotated');

    process.env.SECRETS_TTL_SECONDS = '0';
    resetConfig();
    reads = [];
    await getSecret('DEMO_KEY');
    await getSecret('DEMO_KEY');
    expect(reads).toHaveLength(2);
  });

  it('is read once for any number of concurrent callers', async () => {
    secrets.set(ARN, 'sk-shared');
    const values = await Promise.all(Array.from({ length: 8 }, () => getSecret('DEMO_KEY')));
    expect(new Set(values)).toEqual(new Set(['sk-shared']));
    expect(reads).toHaveLength(1);
  });
});

describe('a failed read', () => {
  it('is not kept: the next call reads again', async () => {
    secrets.set(ARN, 'sk-after-outage');
    failing = true;
    await expect(getSecret('DEMO_KEY')).rejects.toThrow(/unavailable/);
    failing = false;
    expect(await getSecret('DEMO_KEY')).toBe('sk-after-outage');
  });

  it('of a refresh answers the last value read, and the next call reads again', async () => {
    secrets.set(ARN, 'sk-known');
    await getSecret('DEMO_KEY');
    clock += minutes(6);
    failing = true;
    expect(await getSecret('DEMO_KEY')).toBe('sk-known');
    failing = false;
    secrets.set(ARN, 'sk-rotated');
    // No TTL to wait for: the failed refresh is not kept.
    expect(await getSecret('DEMO_KEY')).toBe('sk-rotated');
  });
});

describe('the environment variable itself', () => {
  it('wins over the secret and never calls Secrets Manager', async () => {
    secrets.set(ARN, 'sk-from-secrets-manager');
    process.env.DEMO_KEY = 'sk-from-environment';
    expect(await getSecret('DEMO_KEY')).toBe('sk-from-environment');
    expect(reads).toHaveLength(0);
  });

  it('is undefined with neither the variable nor an ARN', async () => {
    delete process.env.DEMO_KEY_SECRET_ARN;
    expect(await getSecret('DEMO_KEY')).toBeUndefined();
    expect(reads).toHaveLength(0);
  });
});

describe('the OpenAI client', () => {
  /** The Authorization header of one real SDK call, answered at the network edge. */
  async function authorizationSent(): Promise<string | null> {
    let sent: string | null = null;
    const capture: typeof fetch = async (input, init) => {
      sent = new Request(input, init).headers.get('authorization');
      return new Response(
        JSON.stringify({ id: 'gpt-image-2.6-flare', object: 'model', created: 0, owned_by: 'openai' }),
        {
          headers: { 'content-type': 'application/json' },
        },
      );
    };
    const client = await openaiClient();
    await withProviderFetch(capture, () => client.models.retrieve('gpt-image-2.6-flare'));
    return sent;
  }

  it('is built again with a rotated key after the TTL, without a cold start', async () => {
    delete process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY_SECRET_ARN = OPENAI_ARN;
    resetConfig();
    secrets.set(OPENAI_ARN, 'sk-openai-one');
    const first = await openaiClient();
    expect(await authorizationSent()).toBe('Bearer sk-openai-one');
    secrets.set(OPENAI_ARN, 'sk-openai-two');
    expect(await openaiClient()).toBe(first);
    clock += minutes(5);
    expect(await authorizationSent()).toBe('Bearer sk-openai-two');
    expect(await openaiClient()).not.toBe(first);
  });
});

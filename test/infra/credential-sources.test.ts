import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, REPO_ROOT } from '../../infra/constructs/bundling.ts';
import {
  installedVersion,
  ON_DEMAND_MODULES,
  onDemandModuleFile,
} from '../../infra/constructs/on-demand-modules.ts';
import {
  type RecordedRequest,
  type RecordingServer,
  startRecordingServer,
} from '../support/recording-server.ts';

/**
 * The AWS SDK's credential chain in a deployed bundle: the sources after the environment's are
 * bundled on their own beside `index.js` (infra/constructs/on-demand-modules.ts) and loaded when
 * the chain reaches them. A bundle that reads one DynamoDB item with the SDK's default client
 * (bench/fixtures/dynamodb-only.ts, built as the stack builds every function) runs in a fresh
 * Node 22 process outside the repository, against a local server standing in for DynamoDB, STS, SSO
 * and the container credentials endpoint, once per source; the key that signed the DynamoDB
 * request names the source that answered.
 */

const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
const work = mkdtempSync(join(tmpdir(), 'makeit3d-credentials-'));
const bundleDir = join(work, 'bundle');
let server: RecordingServer;
let origin = '';

/** What a request to the stand-in server is for: the service and, for STS, the action. */
function targetOf(request: RecordedRequest): string {
  if (request.path === '/container-credentials') return 'container';
  if (request.path.startsWith('/sso/federation/credentials')) return 'sso';
  if (request.path.startsWith('/sts')) return `sts:${new URLSearchParams(request.body).get('Action') ?? ''}`;
  return String(request.headers['x-amz-target']);
}

/** The last request the stand-in received for `target` (`targetOf`). */
function lastRequestTo(target: string): RecordedRequest | undefined {
  return server.received.filter((request) => targetOf(request) === target).at(-1);
}

/** STS's awsQuery answer (XML) for AssumeRole and AssumeRoleWithWebIdentity. */
function stsAnswer(action: string, accessKeyId: string): string {
  return `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/reader/session</Arn><AssumedRoleId>AROAEXAMPLE:session</AssumedRoleId></AssumedRoleUser></${action}Result><ResponseMetadata><RequestId>request-1</RequestId></ResponseMetadata></${action}Response>`;
}

beforeAll(async () => {
  await bundleFunction(join(REPO_ROOT, 'bench', 'fixtures', 'dynamodb-only.ts'), bundleDir);
  server = await startRecordingServer((request) => {
    const target = targetOf(request);
    if (target === 'container') {
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          AccessKeyId: 'AKIACONTAINER',
          SecretAccessKey: 'secret',
          Token: 'token',
          Expiration: '2099-01-01T00:00:00Z',
        }),
      };
    }
    if (target === 'sso') {
      // GetRoleCredentials, with the bearer token from the SDK's SSO cache in x-amz-sso_bearer_token.
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          roleCredentials: {
            accessKeyId: 'ASIASSO',
            secretAccessKey: 'secret',
            sessionToken: 'token',
            expiration: Date.parse('2099-01-01T00:00:00Z'),
          },
        }),
      };
    }
    if (target.startsWith('sts:')) {
      const action = target.slice('sts:'.length);
      return {
        headers: { 'content-type': 'text/xml' },
        body: stsAnswer(action, action === 'AssumeRole' ? 'ASIAASSUMED' : 'ASIAWEBIDENTITY'),
      };
    }
    return {
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ Item: { pk: { S: 'task#1' }, sk: { S: 'task' } } }),
    };
  });
  origin = server.url;
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  /** The handler's answer, or the error it threw. */
  answer?: unknown;
  error?: string;
  /** The files from a node_modules directory that the process loaded: the on-demand modules. */
  loaded: string[];
}

/**
 * Runs the bundle in `dir` once, as the Lambda runtime would, with only `env` (and a HOME of its
 * own, so no real ~/.aws is read, and the instance metadata endpoint turned off) set.
 */
async function runBundle(
  dir: string,
  env: Record<string, string>,
  home = mkdtempSync(join(work, 'home-')),
): Promise<Run> {
  const script = `const { handler } = require(${JSON.stringify(join(dir, 'index.js'))});
const loaded = () => Object.keys(require.cache).filter((file) => file.includes('/node_modules/'));
handler({ table: 'tasks', pk: 'task#1', sk: 'task' }).then(
  (answer) => process.stdout.write(JSON.stringify({ answer, loaded: loaded() })),
  (error) => process.stdout.write(JSON.stringify({ error: String(error), loaded: loaded() })),
);`;
  const { stdout } = await promisify(execFile)(NODE, ['-e', script], {
    cwd: home,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_DYNAMODB: origin,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
  });
  return JSON.parse(stdout) as Run;
}

/** The access key that signed the last DynamoDB GetItem. */
function lastGetItemKey(): string | undefined {
  const getItem = lastRequestTo('DynamoDB_20120810.GetItem');
  return getItem?.headers.authorization?.match(/Credential=(\w+)\//)?.[1];
}

function writeFile(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

/** A copy of the bundle's directory without its on-demand modules. */
function copyWithoutOnDemandModules(name: string): string {
  const copy = join(work, `bundle-${name}`);
  cpSync(bundleDir, copy, { recursive: true });
  rmSync(join(copy, 'node_modules'), { recursive: true });
  return copy;
}

function loadedModule(run: Run, name: string): boolean {
  return run.loaded.includes(onDemandModuleFile(bundleDir, name));
}

describe("the SDK's credential chain in a bundle", () => {
  it('builds every on-demand module the bundle names, beside it, as CommonJS of the installed version', () => {
    for (const name of ON_DEMAND_MODULES) {
      const file = onDemandModuleFile(bundleDir, name);
      expect(existsSync(file), name).toBe(true);
      expect(JSON.parse(readFileSync(join(file, '..', 'package.json'), 'utf8'))).toEqual({
        name,
        version: installedVersion(REPO_ROOT, name),
        type: 'commonjs',
        main: 'index.js',
      });
    }
  });

  it("takes the environment's credentials (Lambda's) without any on-demand module: a bundle without them runs", async () => {
    const bare = copyWithoutOnDemandModules('environment');
    const run = await runBundle(bare, {
      AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENT',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
    });
    expect(run.error).toBeUndefined();
    expect(run.answer).toMatchObject({ Item: { pk: { S: 'task#1' } } });
    expect(lastGetItemKey()).toBe('AKIAENVIRONMENT');
    expect(run.loaded).toEqual([]);
  });

  it("fails, rather than take another copy, when a source's module is missing: NODE_PATH (where Lambda keeps its own SDK) is not searched", async () => {
    const bare = copyWithoutOnDemandModules('missing');
    const credentials = writeFile(
      'credentials-unreachable',
      '[default]\naws_access_key_id = AKIASHAREDFILE\naws_secret_access_key = secret\n',
    );
    const run = await runBundle(bare, {
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      // The repository's node_modules holds every source's package: found only through NODE_PATH.
      NODE_PATH: join(REPO_ROOT, 'node_modules'),
    });
    expect(run.error).toMatch(/Cannot find package '@aws-sdk\/credential-provider-ini'/);
  });

  it('reads a shared credentials file through the shared-config module', async () => {
    const credentials = writeFile(
      'credentials',
      '[default]\naws_access_key_id = AKIASHAREDFILE\naws_secret_access_key = secret\n',
    );
    const run = await runBundle(bundleDir, { AWS_SHARED_CREDENTIALS_FILE: credentials });
    expect(run.error).toBeUndefined();
    expect(lastGetItemKey()).toBe('AKIASHAREDFILE');
    expect(loadedModule(run, '@aws-sdk/credential-provider-ini')).toBe(true);
  });

  it('assumes a role through STS from a profile (the STS client inside the shared-config module)', async () => {
    const credentials = writeFile(
      'credentials-source',
      '[source]\naws_access_key_id = AKIASOURCE\naws_secret_access_key = secret\n',
    );
    const config = writeFile(
      'config-assume-role',
      '[profile reader]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = source\n',
    );
    const run = await runBundle(bundleDir, {
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: config,
      AWS_PROFILE: 'reader',
      AWS_ENDPOINT_URL_STS: `${origin}/sts`,
    });
    expect(run.error).toBeUndefined();
    const assumeRole = lastRequestTo('sts:AssumeRole');
    expect(assumeRole?.headers.authorization).toMatch(/Credential=AKIASOURCE\//);
    expect(new URLSearchParams(assumeRole?.body).get('RoleArn')).toBe(
      'arn:aws:iam::123456789012:role/reader',
    );
    expect(lastGetItemKey()).toBe('ASIAASSUMED');
  });

  it('signs in with an SSO profile through the SSO module (reached from the shared-config module)', async () => {
    const home = mkdtempSync(join(work, 'sso-home-'));
    const startUrl = 'https://example.awsapps.com/start';
    // The SDK's token cache: ~/.aws/sso/cache/<sha1 of the start URL>.json.
    mkdirSync(join(home, '.aws', 'sso', 'cache'), { recursive: true });
    writeFileSync(
      join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update(startUrl).digest('hex')}.json`),
      JSON.stringify({
        accessToken: 'sso-access-token',
        expiresAt: '2099-01-01T00:00:00Z',
        region: 'eu-west-1',
        startUrl,
      }),
    );
    const config = writeFile(
      'config-sso',
      `[profile dev]\nsso_account_id = 123456789012\nsso_role_name = reader\nsso_region = eu-west-1\nsso_start_url = ${startUrl}\n`,
    );
    const run = await runBundle(
      bundleDir,
      { AWS_CONFIG_FILE: config, AWS_PROFILE: 'dev', AWS_ENDPOINT_URL_SSO: `${origin}/sso` },
      home,
    );
    expect(run.error).toBeUndefined();
    const signIn = lastRequestTo('sso');
    expect(signIn?.headers['x-amz-sso_bearer_token']).toBe('sso-access-token');
    expect(lastGetItemKey()).toBe('ASIASSO');
    expect(loadedModule(run, '@aws-sdk/credential-provider-sso')).toBe(true);
  });

  it('runs a credential_process through the process module', async () => {
    const program = writeFile(
      'credential-process.cjs',
      `process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: 'AKIAPROCESS', SecretAccessKey: 'secret' }));`,
    );
    const config = writeFile('config-process', `[default]\ncredential_process = "${NODE}" "${program}"\n`);
    const run = await runBundle(bundleDir, { AWS_CONFIG_FILE: config });
    expect(run.error).toBeUndefined();
    expect(lastGetItemKey()).toBe('AKIAPROCESS');
    expect(loadedModule(run, '@aws-sdk/credential-provider-process')).toBe(true);
  });

  it('exchanges a web identity token with STS through the web-identity module', async () => {
    const token = writeFile('web-identity-token', 'a-web-identity-token');
    const run = await runBundle(bundleDir, {
      AWS_WEB_IDENTITY_TOKEN_FILE: token,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/web',
      AWS_ENDPOINT_URL_STS: `${origin}/sts`,
    });
    expect(run.error).toBeUndefined();
    const exchange = lastRequestTo('sts:AssumeRoleWithWebIdentity');
    expect(new URLSearchParams(exchange?.body).get('WebIdentityToken')).toBe('a-web-identity-token');
    expect(lastGetItemKey()).toBe('ASIAWEBIDENTITY');
    expect(loadedModule(run, '@aws-sdk/credential-provider-web-identity')).toBe(true);
  });

  it('fetches container credentials through the HTTP module', async () => {
    const run = await runBundle(bundleDir, {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${origin}/container-credentials`,
    });
    expect(run.error).toBeUndefined();
    expect(lastGetItemKey()).toBe('AKIACONTAINER');
    expect(loadedModule(run, '@aws-sdk/credential-provider-http')).toBe(true);
    expect(loadedModule(run, '@smithy/credential-provider-imds')).toBe(true);
  });

  it("with no source at all, tries each one and fails with the SDK's own error", async () => {
    const before = server.received.length;
    const run = await runBundle(bundleDir, {});
    expect(run.error).toMatch(/Could not load credentials from any providers/);
    expect(server.received.length).toBe(before);
    // SSO is reached only from a profile that names it (above); the HTTP module only with a container endpoint.
    expect(run.loaded.sort()).toEqual(
      [
        '@aws-sdk/credential-provider-ini',
        '@aws-sdk/credential-provider-process',
        '@aws-sdk/credential-provider-web-identity',
        '@smithy/credential-provider-imds',
      ].map((name) => onDemandModuleFile(bundleDir, name)),
    );
  });
});

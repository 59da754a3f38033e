import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { REPO_ROOT } from '../../infra/constructs/bundling.ts';
import {
  DEFAULT_THROTTLE,
  PROVIDER_OVERRIDE_KEYS,
  STAGE_SETTING_KEYS,
  stageSettingsFromContext,
} from '../../infra/stacks/stage-settings.ts';
import { CDK_CONTEXT, SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

/** Stage settings are checked at synth: a wrong or missing value fails before anything deploys. */

const settings = (context: Record<string, unknown>) => stageSettingsFromContext(new App({ context }).node);
const withProject = (context: Record<string, unknown>) => settings({ supabaseUrl: SUPABASE_URL, ...context });

describe('supabaseUrl', () => {
  it('is required, and the error says how to pass it', () => {
    expect(() => settings({})).toThrow(
      /Missing context supabaseUrl: pass -c supabaseUrl=https:\/\/<project>\.supabase\.co/,
    );
    expect(() => settings({ ...CDK_CONTEXT })).toThrow(/supabaseUrl/);
  });

  it('must be a project URL', () => {
    expect(() => settings({ supabaseUrl: 'abc.supabase.co' })).toThrow(/Invalid context supabaseUrl/);
    expect(() => settings({ supabaseUrl: 'https://abc.supabase.co/storage/v1' })).toThrow(/supabaseUrl/);
    expect(settings({ supabaseUrl: 'https://abc.supabase.co/' }).supabaseUrl).toBe('https://abc.supabase.co');
  });
});

describe('context keys', () => {
  it('rejects a key that is no setting, naming it and listing the known ones', () => {
    const unknown = () => withProject({ alarmMail: 'ops@example.com' });
    expect(unknown).toThrow(/Unknown context key: alarmMail\./);
    expect(unknown).toThrow(/Known stage settings: .*alarmEmail/);
    expect(() => withProject({ supabaseURL: 'x', regoin: 'y' })).toThrow(
      /Unknown context keys: supabaseURL, regoin/,
    );
  });

  it('suggests the setting a key differs from only in case', () => {
    expect(() => withProject({ AlarmEmail: 'ops@example.com' })).toThrow(
      /AlarmEmail → did you mean alarmEmail\?/,
    );
  });

  it("accepts every setting, provider override, CDK flag (':' in the name) and cdk.json's context", () => {
    expect(() => withProject({ ...CDK_CONTEXT })).not.toThrow();
    expect(() => withProject({ '@aws-cdk/core:newFlag': true, 'aws:cdk:bundling-stacks': [] })).not.toThrow();
    expect(() => withProject({ 'acknowledged-issue-numbers': [12345] })).not.toThrow();
    for (const key of PROVIDER_OVERRIDE_KEYS) {
      const value = key.endsWith('_BASE_URL') ? 'https://api.example.com/v1' : 'model-x';
      expect(withProject({ [key]: value }).providerOverrides, key).toEqual({ [key]: value });
    }
    expect(STAGE_SETTING_KEYS).toContain('supabaseUrl');
  });
});

describe('alarm settings', () => {
  it('takes one email address for the alarm topic', () => {
    expect(withProject({ alarmEmail: 'oncall@example.com' }).alarmEmail).toBe('oncall@example.com');
    expect(withProject({}).alarmEmail).toBeUndefined();
    for (const bad of ['oncall', 'oncall@example', 'a@b.com, c@d.com', 'on call@example.com']) {
      expect(() => withProject({ alarmEmail: bad }), bad).toThrow(
        /Invalid context alarmEmail=.*: expected one email address/,
      );
    }
  });

  it('takes thresholds of 0 or more, default 0 (any) for failures and 5 for API 5xx', () => {
    expect(withProject({})).toMatchObject({
      serviceFailureAlarmThreshold: 0,
      lambdaErrorAlarmThreshold: 0,
      apiServerErrorAlarmThreshold: 5,
    });
    expect(withProject({ serviceFailureAlarmThreshold: '3' }).serviceFailureAlarmThreshold).toBe(3);
    expect(() => withProject({ serviceFailureAlarmThreshold: '-1' })).toThrow(/serviceFailureAlarmThreshold/);
    expect(() => withProject({ lambdaErrorAlarmThreshold: '1.5' })).toThrow(/lambdaErrorAlarmThreshold/);
  });
});

describe('log level', () => {
  it('is INFO unless the stage asks for DEBUG, WARN or ERROR', () => {
    expect(withProject({}).logLevel).toBe('INFO');
    expect(withProject({ logLevel: 'debug' }).logLevel).toBe('DEBUG');
    expect(() => withProject({ logLevel: 'verbose' })).toThrow(
      /Invalid context logLevel=verbose: expected one of DEBUG, INFO, WARN, ERROR/,
    );
  });
});

describe('API key cache', () => {
  it('is 0 to 60 seconds, and reaches exactly the functions that accept API keys', () => {
    expect(withProject({}).apiKeyCacheSeconds).toBeUndefined();
    expect(withProject({ apiKeyCacheSeconds: '30' }).apiKeyCacheSeconds).toBe(30);
    expect(() => withProject({ apiKeyCacheSeconds: 61 })).toThrow(
      /Invalid context apiKeyCacheSeconds=61: expected 0 to 60 seconds/,
    );
    expect(() => withProject({ apiKeyCacheSeconds: 1.5 })).toThrow(/expected a whole number/);
    const stack = new SynthesizedStack({ stage: 'qa', supabaseUrl: SUPABASE_URL, apiKeyCacheSeconds: 20 });
    for (const source of ['api/get-task-status', 'api/submit-generation']) {
      expect(stack.environment(source).API_KEY_CACHE_SECONDS, source).toBe('20');
    }
    expect(stack.environment('workflow/run-provider').API_KEY_CACHE_SECONDS).toBeUndefined();
  });
});

describe('throttling', () => {
  it('limits generation (paid work) below status polling by default', () => {
    const { throttle } = withProject({});
    expect(throttle).toEqual(DEFAULT_THROTTLE);
    expect(throttle.generation.rateLimit).toBeLessThan(throttle.status.rateLimit);
    expect(throttle.generation.burstLimit).toBeLessThan(throttle.status.burstLimit);
  });

  it('reads <rate>/<burst> per route group and for the stage default', () => {
    expect(
      withProject({ throttleGeneration: '5/10', throttleDefault: '20/40', throttleStatus: '2.5/5' }).throttle,
    ).toMatchObject({
      generation: { rateLimit: 5, burstLimit: 10 },
      default: { rateLimit: 20, burstLimit: 40 },
      status: { rateLimit: 2.5, burstLimit: 5 },
    });
    for (const bad of ['10', '10/', '0/5', '5/0', '5/2.5', 'fast']) {
      expect(() => withProject({ throttleRegistration: bad }), bad).toThrow(
        /Invalid context throttleRegistration=.*expected <requests per second>\/<burst>/,
      );
    }
  });

  it('reaches the stage default route settings and each throttled route', () => {
    const stack = new SynthesizedStack({
      stage: 'qa',
      supabaseUrl: SUPABASE_URL,
      throttleGeneration: '3/6',
      throttleDefault: '30/60',
    });
    const [, stage] = stack.ofType('AWS::ApiGatewayV2::Stage')[0] ?? [];
    expect(stage?.Properties).toMatchObject({
      DefaultRouteSettings: { ThrottlingRateLimit: 30, ThrottlingBurstLimit: 60 },
      RouteSettings: {
        'POST /generation/{operation}': { ThrottlingRateLimit: 3, ThrottlingBurstLimit: 6 },
        'POST /generate/{operation}': { ThrottlingRateLimit: 3, ThrottlingBurstLimit: 6 },
        'GET /tasks/{jobId}/status': {
          ThrottlingRateLimit: DEFAULT_THROTTLE.status.rateLimit,
          ThrottlingBurstLimit: DEFAULT_THROTTLE.status.burstLimit,
        },
        'POST /auth/register': {
          ThrottlingRateLimit: DEFAULT_THROTTLE.registration.rateLimit,
          ThrottlingBurstLimit: DEFAULT_THROTTLE.registration.burstLimit,
        },
      },
    });
    // A route setting names a route key, which must exist when the stage is deployed.
    const routeIds = stack
      .ofType('AWS::ApiGatewayV2::Route')
      .filter(([, route]) => route.Properties.RouteKey !== '$default')
      .map(([id]) => id);
    expect(routeIds).toHaveLength(API_ROUTES.length);
    expect(stage?.DependsOn).toEqual(expect.arrayContaining(routeIds));
  });
});

describe('API access logs', () => {
  it('are one JSON object per request with route, status, latencies and the integration error', () => {
    const stack = new SynthesizedStack({ stage: 'qa', supabaseUrl: SUPABASE_URL });
    const [, stage] = stack.ofType('AWS::ApiGatewayV2::Stage')[0] ?? [];
    const settings = stage?.Properties.AccessLogSettings as { Format?: string } | undefined;
    const format = JSON.parse(settings?.Format ?? '{}') as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      routeKey: '$context.routeKey',
      status: '$context.status',
      responseLatency: '$context.responseLatency',
      integrationLatency: '$context.integrationLatency',
      integrationErrorMessage: '$context.integrationErrorMessage',
      errorMessage: '$context.error.message',
    });
    // Nothing a caller sends (the X-API-Key header, bodies, query strings) is logged.
    expect(JSON.stringify(format)).not.toMatch(/header|body|querystring/i);
  });
});

describe('custom domain', () => {
  const certificateArn =
    'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789012';

  it('needs both domainName and certificateArn, or neither', () => {
    expect(withProject({}).customDomain).toBeUndefined();
    expect(withProject({ domainName: 'API.example.com', certificateArn }).customDomain).toEqual({
      domainName: 'api.example.com',
      certificateArn,
    });
    expect(() => withProject({ domainName: 'api.example.com' })).toThrow(
      /domainName and certificateArn go together/,
    );
    expect(() => withProject({ certificateArn })).toThrow(/domainName and certificateArn go together/);
    expect(() => withProject({ domainName: 'https://api.example.com', certificateArn })).toThrow(
      /Invalid context domainName/,
    );
    expect(() => withProject({ domainName: 'api.example.com', certificateArn: 'arn:aws:acm:cert' })).toThrow(
      /Invalid context certificateArn/,
    );
  });

  it('maps the domain to the $default stage and outputs its URL and DNS target', () => {
    const stack = new SynthesizedStack({
      stage: 'qa',
      supabaseUrl: SUPABASE_URL,
      domainName: 'api.example.com',
      certificateArn,
    });
    stack.template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.example.com',
      DomainNameConfigurations: [{ CertificateArn: certificateArn, EndpointType: 'REGIONAL' }],
    });
    const domainId = stack.only('AWS::ApiGatewayV2::DomainName');
    stack.template.hasResource('AWS::ApiGatewayV2::ApiMapping', {
      Properties: {
        ApiId: { Ref: stack.only('AWS::ApiGatewayV2::Api') },
        DomainName: { Ref: domainId },
        Stage: '$default',
      },
      DependsOn: [stack.only('AWS::ApiGatewayV2::Stage')],
    });
    const outputs = stack.template.findOutputs('*');
    expect(outputs.CustomDomainUrl?.Value).toEqual({ 'Fn::Join': ['', ['https://', { Ref: domainId }]] });
    expect(outputs.CustomDomainTarget?.Value).toEqual({ 'Fn::GetAtt': [domainId, 'RegionalDomainName'] });
  });
});

describe('the CDK CLI', () => {
  const synth = (...context: string[]) =>
    new Promise<{ code: number; output: string }>((resolve) => {
      const outdir = mkdtempSync(path.join(tmpdir(), 'makeit3d-synth-'));
      execFile(
        'npx',
        ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir, ...context.flatMap((c) => ['-c', c])],
        { cwd: REPO_ROOT, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, timeout: 120_000 },
        (error, stdout, stderr) => {
          rmSync(outdir, { recursive: true, force: true });
          resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}\n${stderr}` });
        },
      );
    });

  it('fails a bare synth (as deploy would) without supabaseUrl, naming the -c to pass', async () => {
    const { code, output } = await synth();
    expect(code).not.toBe(0);
    expect(output).toContain(
      'Missing context supabaseUrl: pass -c supabaseUrl=https://<project>.supabase.co',
    );
  });

  it('fails on a mistyped stage flag before anything is built', async () => {
    const { code, output } = await synth(`supabaseUrl=${SUPABASE_URL}`, 'alarmemail=ops@example.com');
    expect(code).not.toBe(0);
    expect(output).toContain('Unknown context key: alarmemail.');
    expect(output).toContain('did you mean alarmEmail?');
  });
});

import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTIONS, API_ROUTES } from '../../functions/api/routes.ts';
import { hashApiKey, TEST_API_KEY } from '../../functions/core/auth/api-keys.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { TestKeySeed } from '../../infra/constructs/test-key-seed.ts';
import { GENERATION_DEFINITION_FILE, MakeIt3dBffStack } from '../../infra/stacks/makeit3d-bff-stack.ts';
import { PLACEHOLDER_SUPABASE_URL, stageSettingsFromContext } from '../../infra/stacks/stage-settings.ts';

// Prepare: synthesize a stack per stage without esbuild bundling (`bundling-stacks: []`), so the
// assertions run in seconds; `npm run synth` exercises the real bundling.

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

interface Statement {
  actions: string[];
  resources: unknown[];
}

class SynthesizedStack {
  readonly template: Template;
  private readonly resources: Record<string, CfnResource>;

  constructor(context: Record<string, unknown>) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    const settings = stageSettingsFromContext(app.node);
    const stack = new MakeIt3dBffStack(app, `Test-${settings.stage}`, { settings });
    this.template = Template.fromStack(stack);
    const resources = (this.template.toJSON() as { Resources: Record<string, Partial<CfnResource>> })
      .Resources;
    this.resources = Object.fromEntries(
      Object.entries(resources).map(([id, resource]) => [
        id,
        { Type: resource.Type ?? '', Properties: resource.Properties ?? {} },
      ]),
    );
  }

  ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, resource]) => resource.Type === type);
  }

  resource(logicalId: string): CfnResource {
    const found = this.resources[logicalId];
    if (!found) throw new Error(`No resource ${logicalId}`);
    return found;
  }

  /** The logical id of the Lambda built from a file under functions/. */
  functionId(source: string): string {
    const matches = this.ofType('AWS::Lambda::Function').filter(([, resource]) =>
      (resource.Properties.Tags as { Key: string; Value: string }[] | undefined)?.some(
        (tag) => tag.Key === 'makeit3d:source' && tag.Value === `functions/${source}.ts`,
      ),
    );
    expect(matches, `one function for functions/${source}.ts`).toHaveLength(1);
    return matches[0]?.[0] ?? '';
  }

  functionProperties(source: string): Record<string, unknown> {
    return this.resource(this.functionId(source)).Properties;
  }

  environment(source: string): Record<string, unknown> {
    const environment = this.functionProperties(source).Environment as {
      Variables?: Record<string, unknown>;
    };
    return environment.Variables ?? {};
  }

  /** Every IAM statement attached to a role, with actions and resources as arrays. */
  statementsOfRole(roleId: string): Statement[] {
    return this.ofType('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(`"Ref":"${roleId}"`))
      .flatMap(
        ([, policy]) =>
          (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      )
      .map((statement) => ({
        actions: [statement.Action].flat() as string[],
        resources: [statement.Resource].flat(),
      }));
  }

  functionStatements(source: string): Statement[] {
    const role = this.functionProperties(source).Role as { 'Fn::GetAtt': [string, string] };
    return this.statementsOfRole(role['Fn::GetAtt'][0]);
  }

  /** Names of the secrets a function's role may read. */
  readableSecrets(source: string): string[] {
    const secretNames = new Map(
      this.ofType('AWS::SecretsManager::Secret').map(([id, secret]) => [id, String(secret.Properties.Name)]),
    );
    return this.functionStatements(source)
      .filter((statement) => statement.actions.includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => statement.resources)
      .map(
        (resource) => secretNames.get((resource as { Ref?: string }).Ref ?? '') ?? JSON.stringify(resource),
      )
      .map((name) => name.split('/').at(-1) ?? name)
      .sort();
  }

  dynamoActions(source: string): string[] {
    return this.functionStatements(source)
      .flatMap((statement) => statement.actions)
      .filter((action) => action.startsWith('dynamodb:'));
  }
}

const definitionText = readFileSync(GENERATION_DEFINITION_FILE, 'utf8');
const definition = JSON.parse(definitionText) as {
  States: Record<string, { Type: string; Resource?: string; TimeoutSeconds?: number }>;
};
const placeholders = [
  ...new Set([...definitionText.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] ?? '')),
].sort();
const workflowSources = Object.values(WORKFLOW_FUNCTIONS).map((name) => `workflow/${name}`);
const allSources = [
  ...API_FUNCTIONS.map((name) => `api/${name}`),
  ...workflowSources,
  'workflow/reconcile-execution',
];

const PROVIDER_KEYS = [
  'BFL_API_KEY',
  'OPENAI_API_KEY',
  'RECRAFT_API_KEY',
  'STABILITY_API_KEY',
  'TRIPO_API_KEY',
];
const SUPABASE = [
  'SUPABASE_URL',
  'SUPABASE_BUCKET',
  'SUPABASE_BUCKET_PUBLIC',
  'SUPABASE_SERVICE_KEY_SECRET_ARN',
];
const PROVIDER = ['PROVIDER_TIMEOUT_SECONDS', ...PROVIDER_KEYS.map((name) => `${name}_SECRET_ARN`)];

/** What each function must be given, written out independently of the stack's own table. */
const EXPECTED: Record<string, { environment: string[]; secrets: string[] }> = {
  'api/submit-generation': {
    environment: ['NON_PRODUCTION', 'TABLE_NAME', 'STATE_MACHINE_ARN', ...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
  'api/get-task-status': {
    environment: ['NON_PRODUCTION', 'TABLE_NAME', ...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
  'api/register-api-key': {
    environment: ['NON_PRODUCTION', 'TABLE_NAME', 'REGISTRATION_SECRET_SECRET_ARN'],
    secrets: ['REGISTRATION_SECRET'],
  },
  'api/health': { environment: [], secrets: [] },
  'api/not-found': { environment: [], secrets: [] },
  'workflow/mark-task-processing': {
    environment: ['TABLE_NAME', ...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
  'workflow/run-provider': {
    environment: [...SUPABASE, ...PROVIDER],
    secrets: [...PROVIDER_KEYS, 'SUPABASE_SERVICE_KEY'],
  },
  'workflow/process-image': {
    environment: [...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
  'workflow/submit-provider-job': {
    environment: ['TABLE_NAME', ...SUPABASE, ...PROVIDER],
    secrets: [...PROVIDER_KEYS, 'SUPABASE_SERVICE_KEY'],
  },
  'workflow/poll-provider-job': {
    environment: ['TABLE_NAME', ...SUPABASE, ...PROVIDER],
    secrets: [...PROVIDER_KEYS, 'SUPABASE_SERVICE_KEY'],
  },
  'workflow/complete-task': { environment: ['TABLE_NAME'], secrets: [] },
  'workflow/fail-task': { environment: ['TABLE_NAME'], secrets: [] },
  'workflow/record-result-rows': {
    environment: ['TABLE_NAME', ...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
  'workflow/reconcile-execution': {
    environment: ['TABLE_NAME', ...SUPABASE],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
};

/** The functions that accept or issue API keys, which read NON_PRODUCTION. */
const API_KEY_SOURCES = ['api/submit-generation', 'api/get-task-status', 'api/register-api-key'];

/** cdk.json's context, which `cdk synth|deploy` reads (it marks the stages that are not production). */
const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;
const MARKED_STAGES = { nonProductionStages: CDK_CONTEXT.nonProductionStages };

let dev: SynthesizedStack;
let production: SynthesizedStack;
/** A stage whose name is not `production` and that nothing marks non-production. */
let prod: SynthesizedStack;

beforeAll(() => {
  dev = new SynthesizedStack({ ...MARKED_STAGES });
  production = new SynthesizedStack({ stage: 'production', supabaseUrl: 'https://abc.supabase.co' });
  prod = new SynthesizedStack({
    ...MARKED_STAGES,
    stage: 'prod',
    supabaseUrl: 'https://abc.supabase.co',
    registrationFailuresPerWindow: '5',
    registrationFailureWindowSeconds: '600',
  });
});

describe('HTTP API', () => {
  it('has one route per API_ROUTES entry, aliases included, and the $default route', () => {
    const routeKeys = dev.ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);
    expect(routeKeys.sort()).toEqual(
      [...API_ROUTES.map((route) => `${route.method} ${route.path}`), '$default'].sort(),
    );
    expect(routeKeys).toContain('POST /generate/{operation}');
    expect(routeKeys).toContain('GET /auth/health');
  });

  it('sends each route to the Lambda of its handler, and $default to not-found', () => {
    const integrationTarget = new Map(
      dev
        .ofType('AWS::ApiGatewayV2::Integration')
        .map(([id, integration]) => [
          id,
          (integration.Properties.IntegrationUri as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
        ]),
    );
    const expected = new Map<string, string>([
      ...API_ROUTES.map((route): [string, string] => [
        `${route.method} ${route.path}`,
        `api/${route.handler}`,
      ]),
      ['$default', 'api/not-found'],
    ]);
    for (const [, route] of dev.ofType('AWS::ApiGatewayV2::Route')) {
      const target = JSON.stringify(route.Properties.Target);
      const integrationId =
        [...integrationTarget.keys()].find((id) => target.includes(`"Ref":"${id}"`)) ?? '';
      const source = expected.get(String(route.Properties.RouteKey)) ?? '';
      expect(integrationTarget.get(integrationId), String(route.Properties.RouteKey)).toBe(
        dev.functionId(source),
      );
    }
  });

  it('allows the headers the mobile and web clients send', () => {
    dev.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({
        AllowHeaders: Match.arrayWith(['Content-Type', 'X-API-Key', 'Idempotency-Key']),
        ExposeHeaders: Match.arrayWith(['x-request-id']),
      }),
    });
    dev.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });
});

describe('Lambda functions', () => {
  it('builds one function per API handler and workflow function, plus reconcile-execution', () => {
    for (const source of allSources) dev.functionId(source);
    const tagged = dev
      .ofType('AWS::Lambda::Function')
      .filter(([, fn]) => JSON.stringify(fn.Properties.Tags).includes('makeit3d:source'));
    expect(tagged).toHaveLength(allSources.length);
  });

  it('runs every Lambda, the custom resource provider included, on Node.js 22', () => {
    const runtimes = dev.ofType('AWS::Lambda::Function').map(([, fn]) => fn.Properties.Runtime);
    expect(runtimes.length).toBeGreaterThan(allSources.length);
    expect(new Set(runtimes)).toEqual(new Set(['nodejs22.x']));
  });

  it('uses the project defaults: ARM64, ESM bundle handler, X-Ray, JSON logs, source maps', () => {
    for (const source of allSources) {
      expect(dev.functionProperties(source), source).toMatchObject({
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
      });
      expect(dev.environment(source).NODE_OPTIONS, source).toBe('--enable-source-maps');
    }
  });

  it('gives each function exactly the environment variables it reads', () => {
    for (const source of allSources) {
      const expected = EXPECTED[source];
      expect(expected, `expectations for ${source}`).toBeDefined();
      const names = Object.keys(dev.environment(source)).sort();
      expect(names, source).toEqual(['NODE_OPTIONS', 'STAGE', ...(expected?.environment ?? [])].sort());
      expect(dev.environment(source).STAGE).toBe('dev');
    }
    expect(dev.environment('api/submit-generation').SUPABASE_URL).toBe(PLACEHOLDER_SUPABASE_URL);
    expect(production.environment('api/submit-generation')).toMatchObject({
      STAGE: 'production',
      SUPABASE_URL: 'https://abc.supabase.co',
    });
  });

  it('keeps provider HTTP timeouts below the Lambda timeout', () => {
    for (const source of [
      'workflow/run-provider',
      'workflow/submit-provider-job',
      'workflow/poll-provider-job',
    ]) {
      const timeout = Number(dev.functionProperties(source).Timeout);
      expect(Number(dev.environment(source).PROVIDER_TIMEOUT_SECONDS), source).toBeLessThan(timeout);
    }
    expect(Number(dev.functionProperties('workflow/run-provider').Timeout)).toBe(900);
    expect(Number(dev.functionProperties('workflow/run-provider').MemorySize)).toBeGreaterThanOrEqual(1024);
    for (const name of API_FUNCTIONS) {
      const timeout = Number(dev.functionProperties(`api/${name}`).Timeout);
      expect(timeout, name).toBeGreaterThanOrEqual(10);
      expect(timeout, name).toBeLessThanOrEqual(29);
    }
  });

  it('gives no workflow function a longer timeout than its Task state', () => {
    for (const state of Object.values(definition.States)) {
      if (state.Type !== 'Task') continue;
      const placeholder = /^\$\{(\w+)\}$/.exec(state.Resource ?? '')?.[1] ?? '';
      const name = WORKFLOW_FUNCTIONS[placeholder as keyof typeof WORKFLOW_FUNCTIONS];
      const timeout = Number(dev.functionProperties(`workflow/${name}`).Timeout);
      expect(timeout, placeholder).toBeLessThanOrEqual(state.TimeoutSeconds ?? Number.POSITIVE_INFINITY);
    }
  });
});

describe('secrets', () => {
  it('creates one Secrets Manager secret per secret name, per stage', () => {
    const names = dev.ofType('AWS::SecretsManager::Secret').map(([, secret]) => secret.Properties.Name);
    expect(names.sort()).toEqual(
      [...PROVIDER_KEYS, 'REGISTRATION_SECRET', 'SUPABASE_SERVICE_KEY']
        .map((name) => `makeit3d-bff/dev/${name}`)
        .sort(),
    );
    dev.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'makeit3d-bff/dev/REGISTRATION_SECRET',
      GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }),
    });
  });

  it('starts third-party keys blank, which getSecret reads as not set, never as a random key', () => {
    for (const name of [...PROVIDER_KEYS, 'SUPABASE_SERVICE_KEY']) {
      dev.template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: `makeit3d-bff/dev/${name}`,
        SecretString: ' ',
        GenerateSecretString: Match.absent(),
      });
    }
  });

  it('lets each function read exactly the secrets whose ARN it is given', () => {
    for (const source of allSources) {
      expect(dev.readableSecrets(source), source).toEqual([...(EXPECTED[source]?.secrets ?? [])].sort());
    }
  });
});

describe('DynamoDB table', () => {
  it('is on-demand with pk/sk strings, point-in-time recovery and TTL on expires_at', () => {
    dev.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    dev.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
  });

  it('is destroyed with a stage marked non-production and retained in any other, whatever its name', () => {
    dev.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    for (const stack of [production, prod]) {
      stack.template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      });
    }
  });

  it('grants table access only where a function uses it, and no more', () => {
    for (const source of ['api/health', 'api/not-found', 'workflow/run-provider', 'workflow/process-image']) {
      expect(dev.dynamoActions(source), source).toEqual([]);
    }
    expect(dev.dynamoActions('workflow/record-result-rows')).toContain('dynamodb:GetItem');
    expect(dev.dynamoActions('workflow/record-result-rows')).not.toContain('dynamodb:UpdateItem');
    for (const source of ['api/register-api-key', 'workflow/complete-task', 'workflow/fail-task']) {
      expect(dev.dynamoActions(source), source).not.toContain('dynamodb:GetItem');
    }
    for (const source of ['api/submit-generation', 'api/get-task-status', 'workflow/reconcile-execution']) {
      expect(dev.dynamoActions(source), source).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
      );
    }
  });
});

describe('state machine', () => {
  const stateMachine = () => {
    const machines = dev.ofType('AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(1);
    const [id, resource] = machines[0] ?? ['', { Type: '', Properties: {} }];
    return { id, properties: resource.Properties };
  };

  it('is a STANDARD workflow whose definition is exactly the ASL file', () => {
    const { properties } = stateMachine();
    expect(properties.StateMachineType).toBe('STANDARD');
    expect(typeof properties.DefinitionString).toBe('string');
    expect(JSON.parse(String(properties.DefinitionString))).toEqual(JSON.parse(definitionText));
  });

  it('substitutes every placeholder of the file with its workflow function ARN', () => {
    const { properties } = stateMachine();
    const substitutions = properties.DefinitionSubstitutions as Record<string, unknown>;
    expect(Object.keys(substitutions).sort()).toEqual(placeholders);
    for (const placeholder of placeholders) {
      const name = WORKFLOW_FUNCTIONS[placeholder as keyof typeof WORKFLOW_FUNCTIONS];
      expect(substitutions[placeholder], placeholder).toEqual({
        'Fn::GetAtt': [dev.functionId(`workflow/${name}`), 'Arn'],
      });
    }
  });

  it('may invoke every workflow function', () => {
    const { properties } = stateMachine();
    const roleId = (properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const invocable = dev
      .statementsOfRole(roleId)
      .filter((statement) => statement.actions.includes('lambda:InvokeFunction'))
      .flatMap((statement) => statement.resources);
    for (const source of workflowSources) {
      expect(invocable, source).toContainEqual({ 'Fn::GetAtt': [dev.functionId(source), 'Arn'] });
    }
  });

  it('traces and logs errors without execution data', () => {
    const { properties } = stateMachine();
    expect(properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(properties.LoggingConfiguration).toMatchObject({ Level: 'ERROR', IncludeExecutionData: false });
  });

  it('is started by the submit function, which knows its ARN', () => {
    const { id } = stateMachine();
    expect(dev.environment('api/submit-generation').STATE_MACHINE_ARN).toEqual({ Ref: id });
    const starts = dev
      .functionStatements('api/submit-generation')
      .filter((statement) => statement.actions.includes('states:StartExecution'));
    expect(starts.flatMap((statement) => statement.resources)).toContainEqual({ Ref: id });
    for (const source of allSources.filter((source) => source !== 'api/submit-generation')) {
      const actions = dev.functionStatements(source).flatMap((statement) => statement.actions);
      expect(actions, source).not.toContain('states:StartExecution');
    }
  });

  it('sends failed, timed-out and aborted executions to reconcile-execution', () => {
    const { id } = stateMachine();
    dev.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: id }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [dev.functionId('workflow/reconcile-execution'), 'Arn'] },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
  });
});

describe('alarms and outputs', () => {
  it('alarms on failed executions and on API 5xx answers', () => {
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('outputs the API URL, the state machine ARN and the table name', () => {
    const outputs = Object.keys(dev.template.findOutputs('*'));
    expect(outputs).toEqual(expect.arrayContaining(['ApiUrl', 'StateMachineArn', 'TableName']));
  });
});

describe('test key', () => {
  it('is seeded into the table of a non-production stage', () => {
    const seeds = dev.ofType('Custom::AWS');
    expect(seeds).toHaveLength(1);
    const create = JSON.stringify(seeds[0]?.[1].Properties.Create);
    expect(create).toContain('putItem');
    expect(create).toContain(`APIKEY#${hashApiKey(TEST_API_KEY)}`);
    expect(create).toContain('development_tenant');
    expect(JSON.stringify(seeds[0]?.[1].Properties.Update)).toContain('putItem');
  });

  it('limits the seeding policy to the table', () => {
    const [tableId] = dev.ofType('AWS::DynamoDB::Table')[0] ?? [''];
    dev.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: 'dynamodb:PutItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } },
        ],
      },
    });
  });

  it('is absent from a production stage, and from any stage not marked non-production', () => {
    for (const stack of [production, prod]) {
      stack.template.resourceCountIs('Custom::AWS', 0);
      expect(JSON.stringify(stack.template.toJSON())).not.toContain(hashApiKey(TEST_API_KEY));
    }
  });

  it('cannot be seeded into a stage not marked non-production, even by a mistaken stack', () => {
    const stack = new Stack(new App(), 'Seed');
    const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    const seed = (nonProduction: boolean) =>
      new TestKeySeed(stack, `Seed${nonProduction}`, {
        table,
        logRemovalPolicy: RemovalPolicy.DESTROY,
        settings: { stage: 'prod', nonProduction },
      });
    expect(() => seed(false)).toThrow(/prod is not/);
    expect(() => seed(true)).not.toThrow();
  });

  it('is accepted, and keys issued as test keys, only where the functions are told NON_PRODUCTION=true', () => {
    for (const source of API_KEY_SOURCES) {
      expect(dev.environment(source).NON_PRODUCTION, source).toBe('true');
      expect(prod.environment(source).NON_PRODUCTION, source).toBe('false');
      expect(production.environment(source).NON_PRODUCTION, source).toBe('false');
    }
  });
});

describe('registration limits', () => {
  it('reach only the registration function, and only when the stage sets them', () => {
    expect(prod.environment('api/register-api-key')).toMatchObject({
      REGISTRATION_FAILURES_PER_WINDOW: '5',
      REGISTRATION_FAILURE_WINDOW_SECONDS: '600',
    });
    for (const source of allSources.filter((source) => source !== 'api/register-api-key')) {
      expect(Object.keys(prod.environment(source)).join(' '), source).not.toMatch(/REGISTRATION_FAIL/);
    }
    // Without context the code's defaults apply (10 per 900 s), as the environment test shows.
    expect(dev.environment('api/register-api-key').REGISTRATION_FAILURES_PER_WINDOW).toBeUndefined();
  });
});

describe('a stage not marked non-production', () => {
  const policies = (stack: SynthesizedStack, type: string) =>
    Object.values(stack.template.findResources(type)).map((resource) => [
      resource.DeletionPolicy,
      resource.UpdateReplacePolicy,
    ]);

  it('retains its secrets and log groups, like production', () => {
    for (const type of ['AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup']) {
      for (const stack of [prod, production]) {
        const found = policies(stack, type);
        expect(found.length, type).toBeGreaterThan(0);
        expect(new Set(found.flat()), type).toEqual(new Set(['Retain']));
      }
      expect(new Set(policies(dev, type).flat()), type).toEqual(new Set(['Delete']));
    }
  });

  it('keeps logs for three months, as production does', () => {
    const retention = (stack: SynthesizedStack) =>
      new Set(stack.ofType('AWS::Logs::LogGroup').map(([, group]) => group.Properties.RetentionInDays));
    expect(retention(prod)).toEqual(new Set([90]));
    expect(retention(dev)).toEqual(new Set([30, 7]));
  });
});

describe('stage settings from context', () => {
  const settings = (context: Record<string, unknown>) => stageSettingsFromContext(new App({ context }).node);

  it('defaults to the dev stage with the placeholder Supabase URL', () => {
    expect(settings({})).toMatchObject({
      stage: 'dev',
      supabaseUrl: PLACEHOLDER_SUPABASE_URL,
      supabaseBucket: 'makeit3d-app-assets',
      supabaseBucketPublic: true,
      providerTimeoutSeconds: 300,
    });
  });

  it('reads -c values, which arrive as strings', () => {
    expect(
      settings({
        stage: 'staging',
        supabaseUrl: 'https://abc.supabase.co/',
        supabaseBucketPublic: 'false',
        providerTimeoutSeconds: '120',
      }),
    ).toMatchObject({
      stage: 'staging',
      supabaseUrl: 'https://abc.supabase.co',
      supabaseBucketPublic: false,
      providerTimeoutSeconds: 120,
    });
  });

  it('treats a stage as production unless context marks it non-production', () => {
    expect(settings({}).nonProduction).toBe(false);
    expect(settings({ stage: 'prod' }).nonProduction).toBe(false);
    expect(settings({ stage: 'staging', nonProduction: true }).nonProduction).toBe(true);
    expect(settings({ stage: 'staging', nonProduction: 'true' }).nonProduction).toBe(true);
    expect(settings({ stage: 'qa', nonProductionStages: 'dev, qa' }).nonProduction).toBe(true);
    // An explicit -c nonProduction=false wins over the list.
    expect(settings({ nonProductionStages: ['dev'], nonProduction: 'false' }).nonProduction).toBe(false);
  });

  it("marks cdk.json's default dev stage non-production, and no other stage", () => {
    expect(settings({ ...CDK_CONTEXT }).nonProduction).toBe(true);
    for (const stage of ['prod', 'staging', 'production']) {
      expect(settings({ ...CDK_CONTEXT, stage }).nonProduction, stage).toBe(false);
    }
  });

  it('refuses to mark the production stage non-production', () => {
    expect(() => settings({ stage: 'production', nonProduction: true })).toThrow(/production/);
    expect(() => settings({ stage: 'production', nonProductionStages: ['production'] })).toThrow(
      /production/,
    );
  });

  it('rejects values that would produce a broken stack', () => {
    expect(() => settings({ nonProduction: 'yes' })).toThrow(/nonProduction/);
    expect(() => settings({ nonProductionStages: [1] })).toThrow(/nonProductionStages/);
    expect(() => settings({ stage: 'Prod_1' })).toThrow(/stage/);
    expect(() => settings({ supabaseUrl: 'abc.supabase.co' })).toThrow(/supabaseUrl/);
    expect(() => settings({ providerTimeoutSeconds: 'soon' })).toThrow(/providerTimeoutSeconds/);
    expect(() => settings({ supabaseBucketPublic: 'yes' })).toThrow(/supabaseBucketPublic/);
  });
});

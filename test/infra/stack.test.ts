import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTIONS, API_ROUTES } from '../../functions/api/routes.ts';
import { hashApiKey, TEST_API_KEY } from '../../functions/core/auth/api-keys.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { TestKeySeed } from '../../infra/constructs/test-key-seed.ts';
import { GENERATION_DEFINITION_FILE } from '../../infra/stacks/makeit3d-bff-stack.ts';
import { stageSettingsFromContext } from '../../infra/stacks/stage-settings.ts';
import { CDK_CONTEXT, SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

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
  'ops/reconcile-stuck-tasks',
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
  'api/provider-webhook': {
    environment: ['TABLE_NAME', 'TRIPO_WEBHOOK_SECRET_SECRET_ARN'],
    secrets: ['TRIPO_WEBHOOK_SECRET'],
  },
  'workflow/await-provider-callback': { environment: ['TABLE_NAME'], secrets: [] },
  'api/api-docs': { environment: [], secrets: [] },
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
    environment: [
      'TABLE_NAME',
      ...SUPABASE,
      ...PROVIDER,
      'WEBHOOK_BASE_URL',
      'TRIPO_WEBHOOK_SECRET_SECRET_ARN',
    ],
    secrets: [...PROVIDER_KEYS, 'SUPABASE_SERVICE_KEY', 'TRIPO_WEBHOOK_SECRET'],
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
  'ops/reconcile-stuck-tasks': {
    environment: [
      'TABLE_NAME',
      'STATE_MACHINE_ARN',
      'STUCK_PENDING_SECONDS',
      'STUCK_PROCESSING_SECONDS',
      'STUCK_ROWS_SECONDS',
      ...SUPABASE,
    ],
    secrets: ['SUPABASE_SERVICE_KEY'],
  },
};

/** Powertools' settings, in every function. */
const POWERTOOLS = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL'];

/** The functions that accept or issue API keys, which read NON_PRODUCTION. */
const API_KEY_SOURCES = ['api/submit-generation', 'api/get-task-status', 'api/register-api-key'];

const MARKED_STAGES = { nonProductionStages: CDK_CONTEXT.nonProductionStages };

let dev: SynthesizedStack;
let production: SynthesizedStack;
/** A stage whose name is not `production` and that nothing marks non-production. */
let prod: SynthesizedStack;

beforeAll(() => {
  dev = new SynthesizedStack({ ...MARKED_STAGES, supabaseUrl: 'https://dev-project.supabase.co' });
  production = new SynthesizedStack({ stage: 'production', supabaseUrl: SUPABASE_URL });
  prod = new SynthesizedStack({
    ...MARKED_STAGES,
    stage: 'prod',
    supabaseUrl: SUPABASE_URL,
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
  it('builds one function per API handler and workflow function, plus the two reconcilers', () => {
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

  it('uses the project defaults: ARM64, CommonJS bundle handler, X-Ray, JSON logs, source maps', () => {
    for (const source of allSources) {
      expect(dev.functionProperties(source), source).toMatchObject({
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' },
      });
      // The API functions map the stacks they log themselves (functions/core/observability/error-stack.ts).
      expect(dev.environment(source).NODE_OPTIONS, source).toBe(
        source.startsWith('api/') ? undefined : '--enable-source-maps',
      );
    }
  });

  it('gives every function the Powertools service, metrics namespace and the stage log level', () => {
    const debug = new SynthesizedStack({ supabaseUrl: SUPABASE_URL, stage: 'qa', logLevel: 'debug' });
    for (const source of allSources) {
      expect(dev.environment(source), source).toMatchObject({
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
      // Lambda's own level (which Powertools obeys first) moves with it.
      expect(debug.environment(source).POWERTOOLS_LOG_LEVEL, source).toBe('DEBUG');
      expect(debug.functionProperties(source).LoggingConfig, source).toMatchObject({
        ApplicationLogLevel: 'DEBUG',
      });
    }
  });

  it('gives each function exactly the environment variables it reads', () => {
    for (const source of allSources) {
      const expected = EXPECTED[source];
      expect(expected, `expectations for ${source}`).toBeDefined();
      const names = Object.keys(dev.environment(source)).sort();
      expect(names, source).toEqual(
        [
          ...(source.startsWith('api/') ? [] : ['NODE_OPTIONS']),
          'STAGE',
          ...POWERTOOLS,
          ...(expected?.environment ?? []),
        ].sort(),
      );
      expect(dev.environment(source).STAGE).toBe('dev');
    }
    expect(dev.environment('api/submit-generation').SUPABASE_URL).toBe('https://dev-project.supabase.co');
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
      // A waitForTaskToken Task names its function in Parameters.FunctionName.
      const named = (state as { Parameters?: { FunctionName?: string } }).Parameters?.FunctionName;
      const placeholder = /^\$\{(\w+)\}$/.exec(named ?? state.Resource ?? '')?.[1] ?? '';
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
      [...PROVIDER_KEYS, 'REGISTRATION_SECRET', 'SUPABASE_SERVICE_KEY', 'TRIPO_WEBHOOK_SECRET']
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

  it('has the sparse `unfinished` index the stuck-task reconciler queries, oldest first', () => {
    dev.template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'unfinished', AttributeType: 'S' },
        { AttributeName: 'updated_at', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'unfinished',
          KeySchema: [
            { AttributeName: 'unfinished', KeyType: 'HASH' },
            { AttributeName: 'updated_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
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

  // Which function may send which DynamoDB action is checked exactly in iam.test.ts.
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

  it('is started by the submit function only; it and the stuck-task reconciler know its ARN', () => {
    const { id } = stateMachine();
    for (const source of ['api/submit-generation', 'ops/reconcile-stuck-tasks']) {
      expect(dev.environment(source).STATE_MACHINE_ARN, source).toEqual({ Ref: id });
    }
    const starts = dev
      .functionStatements('api/submit-generation')
      .filter((statement) => statement.actions.includes('states:StartExecution'));
    expect(starts.flatMap((statement) => statement.resources)).toEqual([{ Ref: id }]);
    for (const source of allSources.filter((source) => source !== 'api/submit-generation')) {
      const actions = dev.functionStatements(source).flatMap((statement) => statement.actions);
      expect(actions, source).not.toContain('states:StartExecution');
    }
  });

  it('invokes exactly the function ARNs the definition names (not their versions and aliases)', () => {
    const { properties } = stateMachine();
    const roleId = (properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const invocable = dev
      .statementsOfRole(roleId)
      .filter((statement) => statement.actions.includes('lambda:InvokeFunction'))
      .flatMap((statement) => statement.resources);
    expect(invocable).toHaveLength(workflowSources.length);
    expect(JSON.stringify(invocable)).not.toContain(':*');
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

describe('outputs', () => {
  it('outputs the API URL without a trailing slash, the state machine ARN, the table and the alarm topic', () => {
    const outputs = dev.template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'StateMachineArn', 'TableName', 'AlarmTopicArn', 'DashboardName']),
    );
    // The HTTP API's own endpoint (https://<id>.execute-api.<region>.amazonaws.com): no `/` to
    // strip before appending /generation/...; the $default stage URL ends in one.
    const apiId = dev.only('AWS::ApiGatewayV2::Api');
    expect(outputs.ApiUrl?.Value).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
    expect(Object.keys(outputs)).not.toContain('CustomDomainUrl');
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

  it('defaults to the dev stage, given the Supabase project', () => {
    expect(settings({ supabaseUrl: SUPABASE_URL })).toMatchObject({
      stage: 'dev',
      supabaseUrl: SUPABASE_URL,
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
    const marked = (context: Record<string, unknown>) =>
      settings({ supabaseUrl: SUPABASE_URL, ...context }).nonProduction;
    expect(marked({})).toBe(false);
    expect(marked({ stage: 'prod' })).toBe(false);
    expect(marked({ stage: 'staging', nonProduction: true })).toBe(true);
    expect(marked({ stage: 'staging', nonProduction: 'true' })).toBe(true);
    expect(marked({ stage: 'qa', nonProductionStages: 'dev, qa' })).toBe(true);
    // An explicit -c nonProduction=false wins over the list.
    expect(marked({ nonProductionStages: ['dev'], nonProduction: 'false' })).toBe(false);
  });

  it("marks cdk.json's default dev stage non-production, and no other stage", () => {
    expect(settings({ ...CDK_CONTEXT, supabaseUrl: SUPABASE_URL }).nonProduction).toBe(true);
    for (const stage of ['prod', 'staging', 'production']) {
      expect(settings({ ...CDK_CONTEXT, supabaseUrl: SUPABASE_URL, stage }).nonProduction, stage).toBe(false);
    }
  });

  it('refuses to mark the production stage non-production', () => {
    const base = { supabaseUrl: SUPABASE_URL, stage: 'production' };
    expect(() => settings({ ...base, nonProduction: true })).toThrow(/production/);
    expect(() => settings({ ...base, nonProductionStages: ['production'] })).toThrow(/production/);
  });

  it('rejects values that would produce a broken stack', () => {
    const broken = (context: Record<string, unknown>) => () =>
      settings({ supabaseUrl: SUPABASE_URL, ...context });
    expect(broken({ nonProduction: 'yes' })).toThrow(/nonProduction/);
    expect(broken({ nonProductionStages: [1] })).toThrow(/nonProductionStages/);
    expect(broken({ stage: 'Prod_1' })).toThrow(/stage/);
    expect(broken({ supabaseUrl: 'abc.supabase.co' })).toThrow(/supabaseUrl/);
    expect(broken({ providerTimeoutSeconds: 'soon' })).toThrow(/providerTimeoutSeconds/);
    expect(broken({ supabaseBucketPublic: 'yes' })).toThrow(/supabaseBucketPublic/);
  });
});

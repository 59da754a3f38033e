import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { API_FUNCTIONS, API_ROUTES, type ApiFunctionName } from '../../functions/api/routes.ts';
import { wasmAssetFiles } from '../../functions/core/images/codecs.ts';
import { TABLE_KEYS } from '../../functions/core/store/dynamo.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { BffFunction, REPO_ROOT } from '../constructs/bff-function.ts';
import { BffHttpApi } from '../constructs/bff-http-api.ts';
import { BffSecrets } from '../constructs/bff-secrets.ts';
import { GenerationWorkflow } from '../constructs/generation-workflow.ts';
import { TestKeySeed } from '../constructs/test-key-seed.ts';
import {
  API_FUNCTION_SPECS,
  type FunctionSpec,
  RECONCILE_FUNCTION,
  secretsFor,
  WORKFLOW_FUNCTION_SPECS,
  type WorkflowLambdaName,
} from './function-specs.ts';
import { PLACEHOLDER_SUPABASE_URL, type StageSettings } from './stage-settings.ts';

export const GENERATION_DEFINITION_FILE = path.join(REPO_ROOT, 'state-machines', 'generation.asl.json');

/** Seconds a provider Lambda keeps after its provider call times out, to record the failure. */
const PROVIDER_TIMEOUT_MARGIN_SECONDS = 15;

export interface MakeIt3dBffStackProps extends StackProps {
  settings: StageSettings;
}

/**
 * The BFF in one stack per stage: HTTP API -> API Lambdas -> DynamoDB and one Step Functions
 * execution per task -> workflow Lambdas -> providers and Supabase.
 */
export class MakeIt3dBffStack extends Stack {
  readonly table: Table;
  readonly apiFunctions: Record<ApiFunctionName, BffFunction>;
  readonly workflowFunctions: Record<WorkflowLambdaName, BffFunction>;

  constructor(scope: Construct, id: string, props: MakeIt3dBffStackProps) {
    const { settings, ...stackProps } = props;
    super(scope, id, {
      description: `MakeIt3D BFF (${settings.stage}): generation API, workflow and task store`,
      ...stackProps,
    });
    // Only a stage explicitly marked non-production is treated as one; any other stage, whatever
    // its name, keeps its data and logs when the stack or a resource goes away, and has no test key.
    const production = !settings.nonProduction;
    const dataRemovalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = production ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH;
    Tags.of(this).add('project', 'makeit3d-bff');
    Tags.of(this).add('stage', settings.stage);

    if (settings.supabaseUrl === PLACEHOLDER_SUPABASE_URL) {
      Annotations.of(this).addWarningV2(
        '@makeit3d/bff:placeholderSupabaseUrl',
        `supabaseUrl is the placeholder ${PLACEHOLDER_SUPABASE_URL}: fine for synth, but pass -c supabaseUrl=https://<project>.supabase.co to deploy`,
      );
    }

    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      removalPolicy: dataRemovalPolicy,
      deletionProtection: production,
    });

    const secrets = new BffSecrets(this, 'Secrets', {
      stage: settings.stage,
      removalPolicy: dataRemovalPolicy,
    });
    // The image codecs load their .wasm from beside the bundle; any workflow function may reach
    // them through the operation catalogue, so every workflow bundle gets the files.
    const wasmFiles = wasmAssetFiles();

    const createFunction = (
      folder: 'api' | 'workflow',
      name: string,
      spec: FunctionSpec,
      filesBesideBundle: readonly string[],
    ): BffFunction => {
      const fn = new BffFunction(this, constructIdFor(folder, name), {
        folder,
        name,
        description: spec.description,
        timeout: Duration.seconds(spec.timeoutSeconds),
        memorySize: spec.memoryMb,
        environment: environmentFor(spec, settings, this.table.tableName),
        logRetention,
        logRemovalPolicy: dataRemovalPolicy,
        filesBesideBundle,
      });
      if (spec.table === 'read') this.table.grantReadData(fn);
      if (spec.table === 'write') this.table.grantWriteData(fn);
      if (spec.table === 'read-write') this.table.grantReadWriteData(fn);
      secrets.grantTo(fn, secretsFor(spec));
      return fn;
    };

    this.apiFunctions = Object.fromEntries(
      API_FUNCTIONS.map((name) => [name, createFunction('api', name, API_FUNCTION_SPECS[name], [])]),
    ) as Record<ApiFunctionName, BffFunction>;
    this.workflowFunctions = Object.fromEntries(
      (Object.keys(WORKFLOW_FUNCTION_SPECS) as WorkflowLambdaName[]).map((name) => [
        name,
        createFunction('workflow', name, WORKFLOW_FUNCTION_SPECS[name], wasmFiles),
      ]),
    ) as Record<WorkflowLambdaName, BffFunction>;

    const definition = readFileSync(GENERATION_DEFINITION_FILE, 'utf8');
    const workflow = new GenerationWorkflow(this, 'GenerationWorkflow', {
      stage: settings.stage,
      definition,
      taskFunctions: Object.fromEntries(
        Object.entries(WORKFLOW_FUNCTIONS).map(([placeholder, name]) => [
          placeholder,
          this.workflowFunctions[name],
        ]),
      ),
      reconcileFunction: this.workflowFunctions[RECONCILE_FUNCTION],
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
    });
    const submit = this.apiFunctions['submit-generation'];
    submit.addEnvironment('STATE_MACHINE_ARN', workflow.stateMachine.stateMachineArn);
    workflow.stateMachine.grantStartExecution(submit);

    const api = new BffHttpApi(this, 'Api', {
      stage: settings.stage,
      routes: API_ROUTES,
      functions: this.apiFunctions,
      fallbackFunction: 'not-found',
      serverErrorAlarmThreshold: settings.apiServerErrorAlarmThreshold,
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
    });

    if (!production) {
      new TestKeySeed(this, 'TestKeySeed', {
        table: this.table,
        logRemovalPolicy: dataRemovalPolicy,
        settings,
      });
    }

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL the mobile app calls' });
    new CfnOutput(this, 'StateMachineArn', {
      value: workflow.stateMachine.stateMachineArn,
      description: 'Generation executions (one per task, named by its job id)',
    });
    new CfnOutput(this, 'TableName', {
      value: this.table.tableName,
      description: 'Tasks, API keys and counters',
    });
    new CfnOutput(this, 'SecretsPrefix', {
      value: `makeit3d-bff/${settings.stage}/`,
      description:
        'Secrets Manager names to fill with put-secret-value (provider keys, SUPABASE_SERVICE_KEY)',
    });
  }
}

/** `submit-generation` in `api` -> `ApiSubmitGenerationFunction`. */
function constructIdFor(folder: string, name: string): string {
  const pascal = (text: string) =>
    text
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join('');
  return `${pascal(folder)}${pascal(name)}Function`;
}

/** The variables functions/core/config.ts reads, for the settings this function's spec uses. */
function environmentFor(
  spec: FunctionSpec,
  settings: StageSettings,
  tableName: string,
): Record<string, string> {
  const environment: Record<string, string> = { STAGE: settings.stage };
  if (spec.apiKeys) environment.NON_PRODUCTION = String(settings.nonProduction);
  if (spec.table) environment.TABLE_NAME = tableName;
  if (spec.supabase) {
    environment.SUPABASE_URL = settings.supabaseUrl;
    environment.SUPABASE_BUCKET = settings.supabaseBucket;
    environment.SUPABASE_BUCKET_PUBLIC = String(settings.supabaseBucketPublic);
    if (settings.supabaseConceptImagesTable) {
      environment.SUPABASE_CONCEPT_IMAGES_TABLE = settings.supabaseConceptImagesTable;
    }
    if (settings.supabaseModelsTable) environment.SUPABASE_MODELS_TABLE = settings.supabaseModelsTable;
  }
  if (spec.providers) {
    // The provider's HTTP timeout must fire before the Lambda's, so the failure is recorded.
    environment.PROVIDER_TIMEOUT_SECONDS = String(
      Math.min(settings.providerTimeoutSeconds, spec.timeoutSeconds - PROVIDER_TIMEOUT_MARGIN_SECONDS),
    );
  }
  if (spec.providers || spec.providerOverrides) Object.assign(environment, settings.providerOverrides);
  if (spec.rateLimits) {
    if (settings.rateLimitGenerationPerMinute !== undefined) {
      environment.RATE_LIMIT_GENERATION_PER_MINUTE = String(settings.rateLimitGenerationPerMinute);
    }
    if (settings.rateLimitStatusPerMinute !== undefined) {
      environment.RATE_LIMIT_STATUS_PER_MINUTE = String(settings.rateLimitStatusPerMinute);
    }
  }
  if (spec.registration) {
    if (settings.registrationFailuresPerWindow !== undefined) {
      environment.REGISTRATION_FAILURES_PER_WINDOW = String(settings.registrationFailuresPerWindow);
    }
    if (settings.registrationFailureWindowSeconds !== undefined) {
      environment.REGISTRATION_FAILURE_WINDOW_SECONDS = String(settings.registrationFailureWindowSeconds);
    }
  }
  return environment;
}

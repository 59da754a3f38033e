import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { API_FUNCTIONS, API_ROUTES, type ApiFunctionName } from '../../functions/api/routes.ts';
import { wasmAssetFiles } from '../../functions/core/images/codecs.ts';
import { docsAssetFiles } from '../../functions/core/openapi/docs-page.ts';
import { TABLE_KEYS, UNFINISHED_INDEX } from '../../functions/core/store/dynamo.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { BffAlarms } from '../constructs/bff-alarms.ts';
import { BffDashboard } from '../constructs/bff-dashboard.ts';
import { BffFunction, type Invoker } from '../constructs/bff-function.ts';
import { BffHttpApi } from '../constructs/bff-http-api.ts';
import { BffSecrets } from '../constructs/bff-secrets.ts';
import { REPO_ROOT } from '../constructs/bundling.ts';
import {
  GenerationWorkflow,
  grantDescribeExecutions,
  grantSendTaskSuccess,
} from '../constructs/generation-workflow.ts';
import { StuckTaskSchedule } from '../constructs/stuck-task-schedule.ts';
import { TestKeySeed } from '../constructs/test-key-seed.ts';
import {
  API_FUNCTION_SPECS,
  type FunctionSpec,
  OPS_FUNCTION_SPECS,
  OPS_FUNCTIONS,
  type OpsFunctionName,
  RECONCILE_FUNCTION,
  RECONCILE_STUCK_TASKS_EVERY_MINUTES,
  secretsFor,
  WORKFLOW_FUNCTION_SPECS,
  type WorkflowLambdaName,
} from './function-specs.ts';
import { EXAMPLE_SUPABASE_URL, type StageSettings } from './stage-settings.ts';

export const GENERATION_DEFINITION_FILE = path.join(REPO_ROOT, 'state-machines', 'generation.asl.json');

/** Seconds a provider Lambda keeps after its provider call times out, to record the failure. */
const PROVIDER_TIMEOUT_MARGIN_SECONDS = 15;

/** The scheduled reconciler's deadlines when context sets none (see stuckTaskDeadlines). */
export const DEFAULT_STUCK_PENDING_SECONDS = 300;
export const DEFAULT_STUCK_ROWS_SECONDS = 900;
/** Beyond the state machine's own timeout, before a task still processing is called stuck. */
export const STUCK_PROCESSING_MARGIN_SECONDS = 600;

export interface MakeIt3dBffStackProps extends StackProps {
  settings: StageSettings;
}

interface CreatedFunction {
  folder: 'api' | 'workflow' | 'ops';
  name: string;
  spec: FunctionSpec;
  invoker: Invoker;
  fn: BffFunction;
}

/**
 * The BFF in one stack per stage: HTTP API -> API Lambdas -> DynamoDB and one Step Functions
 * execution per task -> workflow Lambdas -> providers and Supabase; a scheduled reconciler for
 * whatever is left unfinished; alarms to an SNS topic and a dashboard.
 */
export class MakeIt3dBffStack extends Stack {
  readonly table: ITable;
  readonly apiFunctions: Record<ApiFunctionName, BffFunction>;
  readonly workflowFunctions: Record<WorkflowLambdaName, BffFunction>;
  readonly opsFunctions: Record<OpsFunctionName, BffFunction>;

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

    if (settings.supabaseUrl === EXAMPLE_SUPABASE_URL) {
      Annotations.of(this).addWarningV2(
        '@makeit3d/bff:exampleSupabaseUrl',
        `supabaseUrl is the example ${EXAMPLE_SUPABASE_URL} (npm run synth): fine for an offline render, but deploy with -c supabaseUrl=https://<project>.supabase.co`,
      );
    }

    const definition = readFileSync(GENERATION_DEFINITION_FILE, 'utf8');
    this.table = settings.existingTableName
      ? // A table retained from a deleted stack of this stage: its API keys and tasks stay valid.
        Table.fromTableName(this, 'Table', settings.existingTableName)
      : createTable(this, production, dataRemovalPolicy);

    const secrets = new BffSecrets(this, 'Secrets', {
      stage: settings.stage,
      removalPolicy: dataRemovalPolicy,
      existing: settings.existingSecrets,
    });
    // The image codecs load their .wasm from beside the bundle; any workflow function may reach
    // them through the operation catalogue, so every workflow bundle gets the files.
    const wasmFiles = wasmAssetFiles();
    const stuckDeadlines = stuckTaskDeadlines(settings, definition);
    // The API reference page's viewer files: copied only beside the bundle that names them (api-docs).
    const docsFiles = docsAssetFiles();

    const created: CreatedFunction[] = [];
    const createFunction = (
      folder: CreatedFunction['folder'],
      name: string,
      spec: FunctionSpec,
      invoker: Invoker,
      filesBesideBundle: readonly string[],
    ): BffFunction => {
      const fn = new BffFunction(this, constructIdFor(folder, name), {
        folder,
        name,
        invoker,
        description: spec.description,
        timeout: Duration.seconds(spec.timeoutSeconds),
        memorySize: spec.memoryMb,
        environment: {
          ...environmentFor(spec, settings, this.table.tableName),
          ...(spec.stuckTaskDeadlines ? stuckDeadlines : {}),
        },
        logRetention,
        logRemovalPolicy: dataRemovalPolicy,
        logLevel: settings.logLevel,
        filesBesideBundle,
      });
      grantTableActions(fn, spec, this.table);
      secrets.grantTo(fn, secretsFor(spec));
      created.push({ folder, name, spec, invoker, fn });
      return fn;
    };

    this.apiFunctions = Object.fromEntries(
      API_FUNCTIONS.map((name) => [
        name,
        createFunction('api', name, API_FUNCTION_SPECS[name], 'api-gateway', docsFiles),
      ]),
    ) as Record<ApiFunctionName, BffFunction>;
    this.workflowFunctions = Object.fromEntries(
      (Object.keys(WORKFLOW_FUNCTION_SPECS) as WorkflowLambdaName[]).map((name) => [
        name,
        createFunction(
          'workflow',
          name,
          WORKFLOW_FUNCTION_SPECS[name],
          name === RECONCILE_FUNCTION ? 'eventbridge' : 'state-machine',
          wasmFiles,
        ),
      ]),
    ) as Record<WorkflowLambdaName, BffFunction>;
    this.opsFunctions = Object.fromEntries(
      OPS_FUNCTIONS.map((name) => [
        name,
        createFunction('ops', name, OPS_FUNCTION_SPECS[name], 'eventbridge', wasmFiles),
      ]),
    ) as Record<OpsFunctionName, BffFunction>;

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
    for (const { spec, fn } of created) {
      const actions = spec.stateMachine ?? [];
      if (actions.length === 0) continue;
      // SendTaskSuccess needs only the token (and the token-recording function is named by the
      // state machine: its ARN here would be a dependency cycle).
      if (actions.some((action) => action !== 'SendTaskSuccess'))
        fn.addEnvironment('STATE_MACHINE_ARN', workflow.stateMachine.stateMachineArn);
      if (actions.includes('StartExecution')) workflow.stateMachine.grantStartExecution(fn);
      if (actions.includes('DescribeExecution')) grantDescribeExecutions(workflow, fn);
      if (actions.includes('SendTaskSuccess')) grantSendTaskSuccess(workflow, fn);
    }

    const schedule = new StuckTaskSchedule(this, 'ReconcileStuckTasks', {
      reconciler: this.opsFunctions['reconcile-stuck-tasks'],
      everyMinutes: RECONCILE_STUCK_TASKS_EVERY_MINUTES,
    });

    const api = new BffHttpApi(this, 'Api', {
      stage: settings.stage,
      routes: API_ROUTES,
      functions: this.apiFunctions,
      fallbackFunction: 'not-found',
      throttle: settings.throttle,
      customDomain: settings.customDomain,
      logRetention,
      logRemovalPolicy: dataRemovalPolicy,
    });

    const sources = created.map(({ folder, name, fn }) => ({ source: `${folder}/${name}`, fn }));
    const alarms = new BffAlarms(this, 'Alarms', {
      stage: settings.stage,
      alarmEmail: settings.alarmEmail,
      httpApi: api.httpApi,
      stateMachine: workflow.stateMachine,
      functions: created.map(({ folder, name, spec, invoker, fn }) => ({
        source: `${folder}/${name}`,
        fn,
        invoker,
        // Steps that call providers or fetch inputs fail for the client's reasons too.
        errorsMeanTrouble: !(spec.providers || name === 'process-image'),
      })),
      deadLetterQueues: [
        {
          name: 'ReconcileExecution',
          queue: workflow.reconcileDeadLetters,
          whatToDo:
            'an ended execution was not reconciled, so its task may stay processing until the stuck-task reconciler fails it. Read the message (the execution event and the error), fix the cause, and delete it.',
        },
        {
          name: 'ReconcileStuckTasks',
          queue: schedule.deadLetters,
          whatToDo:
            'a scheduled run of reconcile-stuck-tasks failed, so stuck tasks are not being finished. Read its log group for the error; the next run retries on its own once the cause is fixed.',
        },
      ],
      apiServerErrorThreshold: settings.apiServerErrorAlarmThreshold,
      serviceFailureThreshold: settings.serviceFailureAlarmThreshold,
      lambdaErrorThreshold: settings.lambdaErrorAlarmThreshold,
    });
    const dashboard = new BffDashboard(this, 'Dashboard', {
      stage: settings.stage,
      httpApi: api.httpApi,
      stateMachine: workflow.stateMachine,
      functions: sources,
    });

    if (!production) {
      new TestKeySeed(this, 'TestKeySeed', {
        table: this.table,
        logRemovalPolicy: dataRemovalPolicy,
        settings,
      });
    }

    // Where providers call back: the API's own URL (its custom domain when it has one). Only
    // workflow functions get it, and the API's routes do not name them, so there is no cycle.
    for (const { spec, fn } of created) {
      if (spec.webhookBaseUrl) fn.addEnvironment('WEBHOOK_BASE_URL', api.customUrl ?? api.url);
    }

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Base URL the mobile app calls' });
    if (api.domainName && api.customUrl) {
      new CfnOutput(this, 'CustomDomainUrl', {
        value: api.customUrl,
        description: 'The API on its custom domain, once DNS points at CustomDomainTarget',
      });
      new CfnOutput(this, 'CustomDomainTarget', {
        value: api.domainName.regionalDomainName,
        description: 'The CNAME (or Route 53 alias) target for the custom domain',
      });
    }
    new CfnOutput(this, 'StateMachineArn', {
      value: workflow.stateMachine.stateMachineArn,
      description: 'Generation executions (one per task, named by its job id)',
    });
    new CfnOutput(this, 'TableName', {
      value: this.table.tableName,
      description: 'Tasks, API keys and counters (pass as -c existingTableName to re-create the stack)',
    });
    new CfnOutput(this, 'SecretsPrefix', {
      value: `makeit3d-bff/${settings.stage}/`,
      description:
        'Secrets Manager names to fill with put-secret-value (provider keys, SUPABASE_SERVICE_KEY)',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: alarms.topic.topicArn,
      description: 'Every alarm notifies this SNS topic (subscribe more endpoints to it)',
    });
    new CfnOutput(this, 'DashboardName', {
      value: dashboard.dashboard.dashboardName,
      description: 'CloudWatch dashboard of the stage',
    });
  }
}

/**
 * The task store. The sparse `unfinished` index lists the tasks not yet finished (with their rows)
 * for the scheduled reconciler, oldest `updated_at` first (functions/core/store/dynamo.ts).
 */
function createTable(scope: Construct, production: boolean, removalPolicy: RemovalPolicy): Table {
  const table = new Table(scope, 'Table', {
    partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
    removalPolicy,
    deletionProtection: production,
  });
  table.addGlobalSecondaryIndex({
    indexName: UNFINISHED_INDEX.name,
    partitionKey: { name: UNFINISHED_INDEX.partitionKey, type: AttributeType.STRING },
    sortKey: { name: UNFINISHED_INDEX.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.ALL,
  });
  return table;
}

/** Exactly the spec's DynamoDB actions: on the table, and Query on the `unfinished` index only. */
function grantTableActions(fn: BffFunction, spec: FunctionSpec, table: ITable): void {
  const actions = spec.dynamo ?? [];
  const onTable = actions.filter((action) => action !== 'Query');
  if (onTable.length > 0) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: onTable.map((action) => `dynamodb:${action}`),
        resources: [table.tableArn],
      }),
    );
  }
  if (actions.includes('Query')) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${table.tableArn}/index/${UNFINISHED_INDEX.name}`],
      }),
    );
  }
}

/**
 * STUCK_*_SECONDS for the scheduled reconciler: a task still `processing` is only stuck once the
 * state machine's own timeout (TimeoutSeconds of the ASL) has passed, plus a margin for
 * reconcile-execution to fail it first.
 */
function stuckTaskDeadlines(settings: StageSettings, definition: string): Record<string, string> {
  const executionTimeout = (JSON.parse(definition) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  if (typeof executionTimeout !== 'number') {
    throw new Error(
      'state-machines/generation.asl.json has no TimeoutSeconds: the stuck-task deadline for processing tasks is derived from it',
    );
  }
  return {
    STUCK_PENDING_SECONDS: String(settings.stuckPendingSeconds ?? DEFAULT_STUCK_PENDING_SECONDS),
    STUCK_PROCESSING_SECONDS: String(
      settings.stuckProcessingSeconds ?? executionTimeout + STUCK_PROCESSING_MARGIN_SECONDS,
    ),
    STUCK_ROWS_SECONDS: String(settings.stuckRowsSeconds ?? DEFAULT_STUCK_ROWS_SECONDS),
  };
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
  if (spec.apiKeys && settings.apiKeyCacheSeconds !== undefined) {
    environment.API_KEY_CACHE_SECONDS = String(settings.apiKeyCacheSeconds);
  }
  if (spec.dynamo && spec.dynamo.length > 0) environment.TABLE_NAME = tableName;
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

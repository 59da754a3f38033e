import path from 'node:path';
import { type Duration, type RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import type { LogLevel } from '../stacks/stage-settings.ts';
import { BUNDLE_SETTINGS, REPO_ROOT } from './bundling.ts';

/** Tag naming the source file of a function, so operators (and the tests) can tell them apart. */
export const SOURCE_TAG = 'makeit3d:source';

/** `functions/<folder>/<name>.ts`: the entry of a function. */
export function sourceFileOf(folder: BffFunctionProps['folder'], name: string): string {
  return `functions/${folder}/${name}.ts`;
}

/**
 * The shell command that completes a bundle after NodejsFunction's esbuild: the on-demand modules
 * (on-demand-modules.ts) beside `index.js`, built by the Node.js that runs the CDK app (Node 22,
 * with tsx, as `cdk.json` runs it) from the repository root.
 */
function completeBundleCommand(outputDir: string): string {
  const script = path.join(REPO_ROOT, 'infra', 'constructs', 'build-on-demand-modules.ts');
  return `cd ${shellQuote(REPO_ROOT)} && ${shellQuote(process.execPath)} --import tsx ${shellQuote(script)} ${shellQuote(outputDir)}`;
}

/** Who calls a function, which decides where its failed invocations go. */
export type Invoker = 'api-gateway' | 'state-machine' | 'eventbridge';

const NO_DEAD_LETTER_QUEUE_REASON: Record<Invoker, string> = {
  'api-gateway':
    'Invoked synchronously by API Gateway: a failure is the HTTP answer (and the API 5xx alarm); a dead-letter queue only receives asynchronous invocations',
  'state-machine':
    'Invoked synchronously by the Step Functions task state, whose Retry/Catch handle every failure and end the task failed; a dead-letter queue only receives asynchronous invocations',
  eventbridge:
    'Invoked asynchronously by EventBridge: failed events go to an on-failure destination (an SQS queue with an alarm), which keeps the error with the event; a DeadLetterConfig would duplicate it',
};

export interface BffFunctionProps {
  /** `functions/<folder>/<name>.ts`, exporting `handler`. */
  folder: 'api' | 'workflow' | 'ops';
  invoker: Invoker;
  name: string;
  description: string;
  timeout: Duration;
  memorySize: number;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  /** Powertools' and Lambda's application log level. */
  logLevel: LogLevel;
  /**
   * Files the code may read from next to its bundle at runtime (the image codecs' .wasm); each is
   * copied only into a bundle that names it (`filesNamedIn`).
   */
  filesBesideBundle?: readonly string[];
}

/**
 * A BFF Lambda with the project's defaults fixed in one place: Node.js 22 on ARM64, a CommonJS
 * esbuild bundle (local esbuild, never Docker), X-Ray tracing, Powertools settings, and JSON logs
 * into a log group of its own with a retention. Its role starts with nothing but writing to that
 * log group (no AWS managed policy, whose logs actions cover every log group); the stack adds
 * exactly what the function's spec says.
 */
export class BffFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: BffFunctionProps) {
    const sourceFile = sourceFileOf(props.folder, props.name);
    // A log group of our own: it carries the retention, and goes away with a non-production stack.
    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${sourceFile}: its log group, and what its spec grants`,
    });
    logGroup.grantWrite(role);
    const filesBesideBundle = props.filesBesideBundle ?? [];
    super(scope, id, {
      entry: path.join(REPO_ROOT, sourceFile),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      // X-Ray segments for every invocation; the workflow's provider calls add subsegments.
      tracing: Tracing.ACTIVE,
      // Powertools writes JSON lines itself; Lambda's JSON format adds its own lines (START,
      // REPORT, uncaught errors) as JSON and filters by the same level Powertools is given, since
      // Lambda's level (AWS_LAMBDA_LOG_LEVEL) takes precedence in Powertools when both are set.
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel[props.logLevel],
      logGroup,
      environment: {
        ...sourceMapOptions(props.invoker),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.CJS,
        target: BUNDLE_SETTINGS.target,
        mainFields: [...BUNDLE_SETTINGS.mainFields],
        banner: BUNDLE_SETTINGS.banner,
        define: { ...BUNDLE_SETTINGS.define },
        minify: BUNDLE_SETTINGS.minify,
        keepNames: BUNDLE_SETTINGS.keepNames,
        sourceMap: BUNDLE_SETTINGS.sourceMap,
        sourcesContent: BUNDLE_SETTINGS.sourcesContent,
        bundleAwsSDK: true,
        externalModules: [...BUNDLE_SETTINGS.externalModules],
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // `filesNamedIn`: a file is copied only when the bundle names it.
          afterBundling: (_inputDir: string, outputDir: string) => [
            completeBundleCommand(outputDir),
            ...filesBesideBundle.map(
              (file) =>
                `if grep -qF ${shellQuote(path.basename(file))} ${shellQuote(`${outputDir}/index.js`)}; then cp ${shellQuote(file)} ${shellQuote(`${outputDir}/`)}; fi`,
            ),
          ],
        },
      },
    });
    Tags.of(this).add(SOURCE_TAG, sourceFile);
    acknowledgeFindings(this, props.invoker);
  }
}

/**
 * Stack traces point into the TypeScript sources, not the minified bundle, everywhere, by two
 * means. The API functions catch every error and log its stack through
 * functions/core/observability/error-stack.ts, which reads the bundle's source map only then:
 * Node's `--enable-source-maps` would read and parse the whole map at every cold start, a cost
 * on each first request (README, Benchmarks). The other functions throw their errors to the
 * Lambda runtime (the state machine's Retry/Catch vocabulary), whose log line only Node can map.
 */
export function sourceMapOptions(invoker: Invoker): Record<string, string> {
  return invoker === 'api-gateway' ? {} : { NODE_OPTIONS: '--enable-source-maps' };
}

/** cdk-nag findings that are decisions for every BFF function, each with its reason. */
function acknowledgeFindings(fn: BffFunction, invoker: Invoker): void {
  const runtimeReason =
    'Node.js 22 on purpose: the project is built and tested on Node.js 22 (package.json engines and its node devDependency, bundling target node22); moving to a newer runtime is its own tested change';
  Validations.of(fn).acknowledge(
    { id: 'AwsSolutions-L1', reason: runtimeReason },
    { id: 'Serverless-LambdaLatestVersion', reason: runtimeReason },
    { id: 'Serverless-LambdaDLQ', reason: NO_DEAD_LETTER_QUEUE_REASON[invoker] },
  );
  // The only statement with Resource "*" in the role: X-Ray's PutTraceSegments and
  // PutTelemetryRecords take no resource (test/infra/iam.test.ts holds every other grant to ARNs).
  const defaultPolicy = fn.role?.node.tryFindChild('DefaultPolicy');
  if (!defaultPolicy) throw new Error(`${fn.node.path}: the role has no default policy for X-Ray`);
  Validations.of(defaultPolicy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray tracing (PutTraceSegments, PutTelemetryRecords) supports no resource-level permissions; every other statement names its resources',
  });
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

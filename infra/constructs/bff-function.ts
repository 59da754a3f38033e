import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, type RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { BuildOptions } from 'esbuild';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import type { LogLevel } from '../stacks/stage-settings.ts';

/** The repository root: esbuild's project root, and where `functions/` and the lock file live. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Tag naming the source file of a function, so operators (and the tests) can tell them apart. */
export const SOURCE_TAG = 'makeit3d:source';

/**
 * The bundles are CommonJS, so `import.meta.url` (which the image codecs and the docs page use to
 * find the files copied beside their bundle) is given its value from `__filename` once, at the
 * top of the bundle. The banner comes before esbuild's own "use strict", so it states it itself:
 * the bundle keeps the strict mode its ES module sources were written for.
 */
const IMPORT_META_URL = '__bffImportMetaUrl';
const IMPORT_META_URL_BANNER = `"use strict";var ${IMPORT_META_URL}=require("node:url").pathToFileURL(__filename).href;`;

/**
 * How every function is bundled, in one place: the stack hands these to NodejsFunction, and
 * bench/cold-start.ts and test/infra/bundle-budgets.test.ts build with `esbuildOptions`, so the
 * sizes they measure are the deployed ones.
 */
export const BUNDLE_SETTINGS = {
  target: 'node22',
  // CommonJS, which Lambda loads with `require`: each `node:` built-in is then required where the
  // module that uses it is first evaluated, so the credential providers' child_process, fs and
  // http2 load only if they run, and no built-in pays for an ES module facade (Node evaluates
  // every export of a built-in imported from ESM: `node:http`'s lazy WebSocket getter alone
  // loads undici). Measured by `npm run bench:cold-start`; the README has the figures.
  format: 'cjs',
  // Dependencies' ES module builds (esbuild converts them): tree-shaken, and smaller and faster
  // to evaluate than their CommonJS builds (the AWS SDK's dist-cjs bundle took longer to load).
  mainFields: ['module', 'main'],
  banner: IMPORT_META_URL_BANNER,
  define: { 'import.meta.url': IMPORT_META_URL },
  minify: true,
  // Error names are the state machine's Retry/Catch vocabulary: minification must not touch them.
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  // Nothing external: the AWS SDK is bundled too (the version the tests ran against, rather than
  // whichever the runtime ships), so it counts against each bundle's budget.
  externalModules: [] as string[],
} as const;

/**
 * esbuild's options for bundling `entry` to `outfile` exactly as NodejsFunction does with
 * BUNDLE_SETTINGS (CommonJS, `index.js` beside its source map), plus a metafile for the budget test.
 */
export function esbuildOptions(entry: string, outfile: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: BUNDLE_SETTINGS.format,
    target: BUNDLE_SETTINGS.target,
    mainFields: [...BUNDLE_SETTINGS.mainFields],
    banner: { js: BUNDLE_SETTINGS.banner },
    define: { ...BUNDLE_SETTINGS.define },
    minify: BUNDLE_SETTINGS.minify,
    keepNames: BUNDLE_SETTINGS.keepNames,
    sourcemap: BUNDLE_SETTINGS.sourceMap,
    sourcesContent: BUNDLE_SETTINGS.sourcesContent,
    external: [...BUNDLE_SETTINGS.externalModules],
    absWorkingDir: REPO_ROOT,
    metafile: true,
    logLevel: 'error',
  };
}

/** `functions/<folder>/<name>.ts`: the entry of a function. */
export function sourceFileOf(folder: BffFunctionProps['folder'], name: string): string {
  return `functions/${folder}/${name}.ts`;
}

/**
 * The files of `candidates` (absolute paths) that a bundle needs beside it: those whose file name
 * its code names (the image codecs name each .wasm they load), so a function that never decodes
 * an image carries no .wasm. The stack applies the same rule with grep after bundling.
 */
export function filesNamedIn(bundleText: string, candidates: readonly string[]): string[] {
  return candidates.filter((file) => bundleText.includes(path.basename(file)));
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
          afterBundling: (_inputDir: string, outputDir: string) =>
            filesBesideBundle.map(
              (file) =>
                `if grep -qF ${shellQuote(path.basename(file))} ${shellQuote(`${outputDir}/index.js`)}; then cp ${shellQuote(file)} ${shellQuote(`${outputDir}/`)}; fi`,
            ),
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

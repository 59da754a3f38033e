import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, type RemovalPolicy, Tags } from 'aws-cdk-lib';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The repository root: esbuild's project root, and where `functions/` and the lock file live. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Tag naming the source file of a function, so operators (and the tests) can tell them apart. */
export const SOURCE_TAG = 'makeit3d:source';

/**
 * Lets CommonJS dependencies call `require` inside the ESM bundle. The import is aliased so it
 * cannot collide with a bundled module's own top-level `createRequire` import.
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __bffCreateRequire } from 'node:module'; const require = __bffCreateRequire(import.meta.url);";

export interface BffFunctionProps {
  /** `functions/<folder>/<name>.ts`, exporting `handler`. */
  folder: 'api' | 'workflow';
  name: string;
  description: string;
  timeout: Duration;
  memorySize: number;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
  /** Files the code reads from next to its bundle at runtime (the image codecs' .wasm). */
  filesBesideBundle?: readonly string[];
}

/**
 * A BFF Lambda with the project's defaults fixed in one place: Node.js 22 on ARM64, an ESM
 * esbuild bundle (local esbuild, never Docker), X-Ray tracing and JSON logs into a log group
 * with a retention.
 */
export class BffFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: BffFunctionProps) {
    const sourceFile = `functions/${props.folder}/${props.name}.ts`;
    // A log group of our own: it carries the retention, and goes away with a non-production stack.
    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
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
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      environment: {
        // Stack traces point into the TypeScript sources, not the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: CREATE_REQUIRE_BANNER,
        minify: true,
        // Error names are the state machine's Retry/Catch vocabulary: minification must not touch them.
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        // The SDK version the tests ran against, rather than whichever the runtime ships.
        bundleAwsSDK: true,
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) =>
            filesBesideBundle.map((file) => `cp ${shellQuote(file)} ${shellQuote(`${outputDir}/`)}`),
        },
      },
    });
    Tags.of(this).add(SOURCE_TAG, sourceFile);
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { LogLevelThreshold, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { logReplacer } from './observability/redaction.ts';

/**
 * JSON log lines through Powertools for AWS Lambda (Logger): level, message, timestamp, service,
 * the Lambda request id and cold start flag, the X-Ray trace id, plus the keys of the work in
 * hand (API request id, tenant, job id, operation, provider), so one request or one task can be
 * followed through CloudWatch Logs Insights (or the local console).
 *
 * Each invocation (an API request, a workflow step) has its own keys and Lambda context, and code
 * it calls that logs through the module's `logger` writes with them: the invocation's scope is
 * carried by AsyncLocalStorage, so it stays right when the local host runs many invocations at
 * once in one process (in Lambda one runs at a time; Powertools' own per-invocation state is only
 * scoped under Lambda's multi-concurrency mode). One Powertools Logger serves the whole process;
 * an invocation costs a small object, not a Logger of its own (creating one per request was 5-10%
 * of the local host's time under load), and its keys are added to each line it writes.
 *
 * Every line passes the redaction replacer (observability/redaction.ts): no credential, API key,
 * body or image bytes are written, whatever a caller passes.
 */

export type LogContext = Record<string, unknown>;

const SERVICE_NAME = 'makeit3d-bff';

/** Powertools' level names; LOG_LEVEL is also accepted in lower case (`silent` in tests). */
const LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']);

/**
 * POWERTOOLS_LOG_LEVEL, else LOG_LEVEL, upper-cased: Powertools 2.36 reads both variables but only
 * in upper case, so `LOG_LEVEL=silent` would otherwise log at INFO. Lambda's own log level
 * (AWS_LAMBDA_LOG_LEVEL, advanced logging controls) still wins, as Powertools decides.
 */
function configuredLevel(): string {
  const value = (process.env.POWERTOOLS_LOG_LEVEL || process.env.LOG_LEVEL || 'INFO').trim().toUpperCase();
  return LEVELS.has(value) ? value : 'INFO';
}

/**
 * The Lambda request id of this execution environment's first invocation: the cold start is
 * decided once per process (Powertools decides it per Logger instance).
 */
let firstInvocation: string | undefined;

function isColdStart(requestId: string | undefined): boolean {
  // Lambda sets `on-demand` for a cold start it made for a request (not provisioned concurrency).
  if (process.env.AWS_LAMBDA_INITIALIZATION_TYPE !== 'on-demand' || requestId === undefined) return false;
  firstInvocation ??= requestId;
  return firstInvocation === requestId;
}

/** What Powertools' addContext keeps of a Lambda context, per invocation here. */
interface LambdaFields {
  coldStart: boolean;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  functionName: string;
  awsRequestId: string;
  tenantId: string | undefined;
}

/** The keys and Lambda context of an invocation (or of a child logger). */
interface Scope {
  keys: LogContext;
  lambda?: LambdaFields | undefined;
}

/** The Lambda context of the line being written (set only while one is written; logging is synchronous). */
let lineLambda: LambdaFields | undefined;

class ServiceLogger extends PowertoolsLogger {
  /**
   * Fills the Lambda context keys Powertools' formatter left empty (they are in the item, in
   * Powertools' order, with no value) from the invocation that writes the line, the way
   * Powertools fills them after addContext; a key the caller passed keeps the caller's value.
   */
  protected override createAndPopulateLogItem(
    ...args: Parameters<PowertoolsLogger['createAndPopulateLogItem']>
  ): ReturnType<PowertoolsLogger['createAndPopulateLogItem']> {
    const item = super.createAndPopulateLogItem(...args);
    const lambda = lineLambda;
    if (lambda) {
      const attributes = item.getAttributes();
      attributes.cold_start ??= lambda.coldStart;
      attributes.function_arn ??= lambda.invokedFunctionArn;
      attributes.function_memory_size ??= lambda.memoryLimitInMB;
      attributes.function_name ??= lambda.functionName;
      attributes.function_request_id ??= lambda.awsRequestId;
      attributes.tenant_id ??= lambda.tenantId;
    }
    return item;
  }
}

let root: ServiceLogger | undefined;
let rootLevel: string | undefined;

/**
 * The process's one Powertools logger, created on first use. The level follows the environment
 * (read for each line, as the local host and tests set LOG_LEVEL after loading).
 */
function rootLogger(): ServiceLogger {
  const level = configuredLevel();
  if (!root) {
    root = new ServiceLogger({
      serviceName: SERVICE_NAME,
      logLevel: level as 'INFO',
      jsonReplacerFn: logReplacer(),
    });
    rootLevel = level;
  } else if (level !== rootLevel) {
    root.setLogLevel(level as 'INFO');
    rootLevel = level;
  }
  return root;
}

const invocation = new AsyncLocalStorage<Scope>();

type Level = 'debug' | 'info' | 'warn' | 'error';

export class Logger {
  /** `bound`: a scope of its own (an invocation's, or a child's); else the current invocation's. */
  constructor(private readonly bound?: Scope) {}

  private scope(): Scope | undefined {
    return this.bound ?? invocation.getStore();
  }

  /** A logger whose lines also carry `keys` (the invocation's keys, as they are now, included). */
  child(keys: LogContext): Logger {
    const scope = this.scope();
    return new Logger({ keys: { ...scope?.keys, ...keys }, lambda: scope?.lambda });
  }

  /**
   * Adds keys to every later line of this logger; on the module's `logger`, to the current
   * invocation's (e.g. the tenant once the API key is checked).
   */
  appendKeys(keys: LogContext): void {
    const target = this.scope();
    if (!target) throw new Error('appendKeys needs an invocation logger (see invocationLogger)');
    Object.assign(target.keys, keys);
  }

  /** Runs `work` as this logger's invocation: the module's `logger` writes with its keys. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return invocation.run(this.scope() ?? { keys: {} }, work);
  }

  debug(message: string, fields?: LogContext): void {
    this.write('debug', LogLevelThreshold.DEBUG, message, fields);
  }
  info(message: string, fields?: LogContext): void {
    this.write('info', LogLevelThreshold.INFO, message, fields);
  }
  warn(message: string, fields?: LogContext): void {
    this.write('warn', LogLevelThreshold.WARN, message, fields);
  }
  error(message: string, fields?: LogContext): void {
    this.write('error', LogLevelThreshold.ERROR, message, fields);
  }

  private write(level: Level, threshold: number, message: string, fields: LogContext | undefined): void {
    const target = rootLogger();
    // Below the level nothing is written: skip building the line's keys.
    if (threshold < target.level) return;
    const scope = this.scope();
    if (!scope) {
      target[level](message, fields ?? {});
      return;
    }
    const outer = lineLambda;
    lineLambda = scope.lambda;
    try {
      // The call's fields win over the invocation's keys, as Powertools' extra input wins over
      // persistent keys.
      target[level](message, { ...scope.keys, ...fields });
    } finally {
      lineLambda = outer;
    }
  }
}

/** The current invocation's logger; outside one, the service's. */
export const logger = new Logger();

/**
 * A logger for one Lambda invocation: the Lambda context's request id, cold start and function
 * (when there is a context: the local workflow runner calls handlers without one) plus `keys`.
 * Run the invocation inside its `run` so every line written meanwhile carries them.
 */
export function invocationLogger(context: Context | undefined, keys: LogContext = {}): Logger {
  const lambda: LambdaFields | undefined = context?.awsRequestId
    ? {
        coldStart: isColdStart(context.awsRequestId),
        invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB,
        functionName: context.functionName,
        awsRequestId: context.awsRequestId,
        tenantId: (context as Context & { tenantId?: string }).tenantId,
      }
    : undefined;
  return new Logger({ keys: { ...keys }, lambda });
}

export function describeError(error: unknown): LogContext {
  if (error instanceof Error) return { error_name: error.name, error_message: error.message };
  return { error_message: String(error) };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';
import { logReplacer } from './observability/redaction.ts';

/**
 * JSON log lines through Powertools for AWS Lambda (Logger): level, message, timestamp, service,
 * the Lambda request id and cold start flag, the X-Ray trace id, plus the keys of the work in
 * hand (API request id, tenant, job id, operation, provider), so one request or one task can be
 * followed through CloudWatch Logs Insights (or the local console).
 *
 * Each invocation (an API request, a workflow step) gets its own logger, and code it calls that
 * logs through the module's `logger` writes with that invocation's keys: the invocation's logger
 * is carried by AsyncLocalStorage, so it stays right when the local host runs many invocations at
 * once in one process (in Lambda one runs at a time; Powertools' own per-invocation state is only
 * scoped under Lambda's multi-concurrency mode).
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
 * The Lambda request id of this execution environment's first invocation. Powertools decides the
 * cold start per Logger instance; with one logger per invocation that would call every invocation
 * cold, so it is decided once per process here.
 */
let firstInvocation: string | undefined;

function isColdStart(requestId: string | undefined): boolean {
  // Lambda sets `on-demand` for a cold start it made for a request (not provisioned concurrency).
  if (process.env.AWS_LAMBDA_INITIALIZATION_TYPE !== 'on-demand' || requestId === undefined) return false;
  firstInvocation ??= requestId;
  return firstInvocation === requestId;
}

class ServiceLogger extends PowertoolsLogger {
  #requestId: string | undefined;

  override addContext(context: Parameters<PowertoolsLogger['addContext']>[0]): void {
    this.#requestId = context.awsRequestId;
    super.addContext(context);
  }

  protected override getColdStart(): boolean {
    return isColdStart(this.#requestId);
  }

  protected override createLogger(options?: ConstructorOptions): ServiceLogger {
    return new ServiceLogger(options);
  }
}

let root: ServiceLogger | undefined;
let rootLevel: string | undefined;

/**
 * The logger every invocation logger derives from, created on first use. The level follows the
 * environment (read for each line, as the local host and tests set LOG_LEVEL after loading).
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

const invocation = new AsyncLocalStorage<ServiceLogger>();

export class Logger {
  /** `bound`: a logger of its own (an invocation's, or a child); else the current invocation's. */
  constructor(private readonly bound?: ServiceLogger) {}

  private target(): ServiceLogger {
    const base = rootLogger();
    return this.bound ?? invocation.getStore() ?? base;
  }

  /** A logger whose lines also carry `keys` (the invocation's keys included). */
  child(keys: LogContext): Logger {
    // createChild builds through createLogger, so it is a ServiceLogger (typed as its base).
    return new Logger(this.target().createChild({ persistentKeys: keys }) as ServiceLogger);
  }

  /**
   * Adds keys to every later line of this logger; on the module's `logger`, to the current
   * invocation's (e.g. the tenant once the API key is checked).
   */
  appendKeys(keys: LogContext): void {
    const target = this.bound ?? invocation.getStore();
    if (!target) throw new Error('appendKeys needs an invocation logger (see invocationLogger)');
    target.appendPersistentKeys(keys);
  }

  /** Runs `work` as this logger's invocation: the module's `logger` writes with its keys. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return invocation.run(this.target(), work);
  }

  debug(message: string, fields?: LogContext): void {
    this.target().debug(message, fields ?? {});
  }
  info(message: string, fields?: LogContext): void {
    this.target().info(message, fields ?? {});
  }
  warn(message: string, fields?: LogContext): void {
    this.target().warn(message, fields ?? {});
  }
  error(message: string, fields?: LogContext): void {
    this.target().error(message, fields ?? {});
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
  const instance = rootLogger().createChild({ persistentKeys: keys }) as ServiceLogger;
  if (context?.awsRequestId) instance.addContext(context);
  return new Logger(instance);
}

export function describeError(error: unknown): LogContext {
  if (error instanceof Error) return { error_name: error.name, error_message: error.message };
  return { error_message: String(error) };
}

/**
 * JSON log lines with the request id and job id of the work in hand, so one request or one
 * task can be followed through CloudWatch Logs Insights (or the local console).
 */

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function threshold(): number {
  const configured = (process.env.LOG_LEVEL ?? 'info').toLowerCase();
  return LEVELS[configured as Level | 'silent'] ?? LEVELS.info;
}

export type LogContext = Record<string, unknown>;

export class Logger {
  constructor(private readonly context: LogContext = {}) {}

  child(context: LogContext): Logger {
    return new Logger({ ...this.context, ...context });
  }

  debug(message: string, fields?: LogContext): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogContext): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogContext): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogContext): void {
    this.write('error', message, fields);
  }

  private write(level: Level, message: string, fields?: LogContext): void {
    if (LEVELS[level] < threshold()) return;
    const line = JSON.stringify({
      level,
      time: new Date().toISOString(),
      message,
      ...this.context,
      ...fields,
    });
    if (level === 'error' || level === 'warn') process.stderr.write(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  }
}

export const logger = new Logger({ service: 'makeit3d-bff' });

export function describeError(error: unknown): LogContext {
  if (error instanceof Error) return { error_name: error.name, error_message: error.message };
  return { error_message: String(error) };
}

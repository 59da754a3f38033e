import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeError, logger } from '../logger.ts';

/**
 * Business metrics as CloudWatch embedded metric format (EMF) lines, through Powertools for AWS
 * Lambda: no API call, CloudWatch extracts them from the function's log. One namespace for the
 * service; every metric is written with its own dimension set (a "single metric" flushed at once),
 * so one invocation can record metrics of different shapes. The alarms and the dashboard of the
 * stack (infra/) read these exact names and dimensions.
 */

export const METRICS_NAMESPACE = 'MakeIt3D/BFF';
export const SERVICE_NAME = 'makeit3d-bff';

/** Every metric the service emits, with its unit and the dimensions it carries. */
export const METRIC = {
  /** A task accepted by a submit (dimensions: operation, provider). */
  TaskSubmitted: 'TaskSubmitted',
  /** A task completed (operation, provider). */
  TaskCompleted: 'TaskCompleted',
  /** A task failed (operation, provider, error_code). */
  TaskFailed: 'TaskFailed',
  /**
   * A task failed for a reason that is the service's fault, not the client's: `internal`,
   * `provider_unavailable` (after retries) — never moderation or bad input (no dimensions beyond
   * the service: the alarm's metric).
   */
  ServiceFailure: 'ServiceFailure',
  /** Milliseconds one provider call took (provider, operation). */
  ProviderLatency: 'ProviderLatency',
  /** Bytes of results stored for a task (operation, provider). */
  ResultBytes: 'ResultBytes',
  /** Unfinished tasks or unsynchronised rows the reconciler found past their deadline (kind). */
  StuckFound: 'StuckFound',
  /** Of those, the ones the reconciler finished, failed or re-synchronised (kind, outcome). */
  StuckResolved: 'StuckResolved',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export type MetricDimensions = Record<string, string>;

let metrics: Metrics | undefined;

function instance(): Metrics {
  metrics ??= new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  return metrics;
}

/**
 * Powertools drops a dimension whose value is empty, which would file the metric under another
 * dimension set than the alarms and the dashboard read; it is kept, as `unknown`.
 */
const UNKNOWN_DIMENSION = 'unknown';

/**
 * Writes one metric now, with exactly these dimensions (plus `service`). Off where
 * POWERTOOLS_METRICS_DISABLED is true (tests and the local stack set it unless asked otherwise);
 * read per metric, so the environment at the time decides. A metric that cannot be written is
 * logged and never fails the work it measures.
 */
export function putMetric(
  name: MetricName,
  dimensions: MetricDimensions,
  value = 1,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
): void {
  try {
    // Powertools takes NaN and Infinity, which CloudWatch cannot store: the line would be lost.
    if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, not ${value}`);
    const single = instance().singleMetric();
    for (const [key, entry] of Object.entries(dimensions)) {
      single.addDimension(key, entry.trim() === '' ? UNKNOWN_DIMENSION : entry);
    }
    // A single metric is written by addMetric itself (a second publish would only warn).
    single.addMetric(name, unit, value);
  } catch (error) {
    logger.warn('Metric not written', { metric: name, ...describeError(error) });
  }
}

/**
 * The error codes that are the service's fault, not the client's: an internal error, or a
 * provider or Storage still unavailable after the retries (Storage failures carry
 * `provider_unavailable`, errors.ts). Moderation, bad input, a provider's refusal and a provider's
 * timeout are not.
 */
export const SERVICE_FAILURE_CODES: ReadonlySet<string> = new Set(['internal', 'provider_unavailable']);

/** A task that ended failed: TaskFailed by error code, and ServiceFailure when it is the service's fault. */
export function countTaskFailure(task: { operation: string; provider: string }, errorCode: string): void {
  putMetric(METRIC.TaskFailed, { operation: task.operation, provider: task.provider, error_code: errorCode });
  if (SERVICE_FAILURE_CODES.has(errorCode)) putMetric(METRIC.ServiceFailure, {});
}

export { MetricUnit };

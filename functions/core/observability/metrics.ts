import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

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
 * Writes one metric now, with exactly these dimensions (plus `service`). Off where
 * POWERTOOLS_METRICS_DISABLED is true (tests and the local stack set it unless asked otherwise).
 */
export function putMetric(
  name: MetricName,
  dimensions: MetricDimensions,
  value = 1,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
): void {
  const single = instance().singleMetric();
  for (const [key, entry] of Object.entries(dimensions)) single.addDimension(key, entry);
  single.addMetric(name, unit, value);
  single.publishStoredMetrics();
}

export { MetricUnit };

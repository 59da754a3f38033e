import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  type Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import { serviceMetric } from './bff-alarms.ts';

const PERIOD = Duration.minutes(5);
const WIDTH = 12;
const HEIGHT = 6;

/**
 * One line per dimension combination the service has written for a metric, found by a SEARCH
 * expression: a new operation, provider or error code shows up without a change here.
 */
export function searchMetric(
  metricName: string,
  dimensions: readonly string[],
  statistic: string,
  label: string,
): MathExpression {
  const schema = [METRICS_NAMESPACE, ...[...dimensions, 'service'].sort()].join(',');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${metricName}" service="${SERVICE_NAME}"', '${statistic}', ${PERIOD.toSeconds()})`,
    usingMetrics: {},
    label,
    period: PERIOD,
  });
}

export interface BffDashboardProps {
  stage: string;
  httpApi: HttpApi;
  stateMachine: StateMachine;
  /** Every function, by its source name (`api/submit-generation`). */
  functions: readonly { source: string; fn: IFunction }[];
}

/**
 * The stage's CloudWatch dashboard: the service's own metrics (tasks per operation and
 * provider, failures by error code, provider latency, result sizes, the reconciler), then the
 * API, the executions and the functions.
 */
export class BffDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: BffDashboardProps) {
    super(scope, id);
    const graph = (
      title: string,
      left: IMetric[],
      extra: Partial<{ width: number; right: IMetric[] }> = {},
    ) =>
      new GraphWidget({ title, left, width: extra.width ?? WIDTH, height: HEIGHT, right: extra.right ?? [] });
    const perFunction = (metric: (fn: IFunction) => Metric): IMetric[] =>
      props.functions.map(({ source, fn }) => metric(fn).with({ label: source }));
    const latency = (statistic: string) =>
      searchMetric(METRIC.ProviderLatency, ['provider', 'operation'], statistic, `${statistic}`);

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# MakeIt3D BFF (${props.stage})\nService metrics are in namespace \`${METRICS_NAMESPACE}\` (dimension \`service=${SERVICE_NAME}\`), written by the functions as embedded metric format log lines.`,
          width: 24,
          height: 2,
        }),
      ],
      [
        graph('Tasks submitted per operation and provider', [
          searchMetric(METRIC.TaskSubmitted, ['operation', 'provider'], 'Sum', 'submitted'),
        ]),
        graph('Tasks completed per operation and provider', [
          searchMetric(METRIC.TaskCompleted, ['operation', 'provider'], 'Sum', 'completed'),
        ]),
      ],
      [
        graph('Tasks failed by error code, operation and provider', [
          searchMetric(METRIC.TaskFailed, ['operation', 'provider', 'error_code'], 'Sum', 'failed'),
        ]),
        graph('Service failures (internal, provider_unavailable): the alarm metric', [
          serviceMetric(METRIC.ServiceFailure).with({ label: 'ServiceFailure' }),
        ]),
      ],
      [
        graph('Provider latency p50 (ms) per provider and operation', [latency('p50')], { width: 8 }),
        graph('Provider latency p90 (ms) per provider and operation', [latency('p90')], { width: 8 }),
        graph('Provider latency p99 (ms) per provider and operation', [latency('p99')], { width: 8 }),
      ],
      [
        graph('Result bytes stored per operation and provider', [
          searchMetric(METRIC.ResultBytes, ['operation', 'provider'], 'Sum', 'bytes'),
        ]),
        graph(
          'Stuck tasks found (left) and resolved (right) by the reconciler',
          [searchMetric(METRIC.StuckFound, ['kind'], 'Sum', 'found')],
          { right: [searchMetric(METRIC.StuckResolved, ['kind', 'outcome'], 'Sum', 'resolved')] },
        ),
      ],
      [
        graph(
          'API requests, 4xx and 5xx',
          [
            props.httpApi.metricCount({ period: PERIOD, statistic: 'Sum', label: 'requests' }),
            props.httpApi.metricClientError({ period: PERIOD, statistic: 'Sum', label: '4xx' }),
            props.httpApi.metricServerError({ period: PERIOD, statistic: 'Sum', label: '5xx' }),
          ],
          { width: 12 },
        ),
        graph(
          'API latency (ms): p50, p90, p99, and integration p90',
          ['p50', 'p90', 'p99'].map((statistic) =>
            props.httpApi.metricLatency({ period: PERIOD, statistic, label: `latency ${statistic}` }),
          ),
          {
            right: [
              props.httpApi.metricIntegrationLatency({
                period: PERIOD,
                statistic: 'p90',
                label: 'integration p90',
              }),
            ],
          },
        ),
      ],
      [
        graph(
          'Executions started, succeeded, failed, timed out, aborted',
          [
            props.stateMachine.metricStarted({ period: PERIOD, statistic: 'Sum', label: 'started' }),
            props.stateMachine.metricSucceeded({ period: PERIOD, statistic: 'Sum', label: 'succeeded' }),
            props.stateMachine.metricFailed({ period: PERIOD, statistic: 'Sum', label: 'failed' }),
            props.stateMachine.metricTimedOut({ period: PERIOD, statistic: 'Sum', label: 'timed out' }),
            props.stateMachine.metricAborted({ period: PERIOD, statistic: 'Sum', label: 'aborted' }),
          ],
          { width: 24 },
        ),
      ],
      [
        graph(
          'Lambda errors per function',
          perFunction((fn) => fn.metricErrors({ period: PERIOD, statistic: 'Sum' })),
          { width: 8 },
        ),
        graph(
          'Lambda throttles per function',
          perFunction((fn) => fn.metricThrottles({ period: PERIOD, statistic: 'Sum' })),
          { width: 8 },
        ),
        graph(
          'Lambda duration p90 (ms) per function',
          perFunction((fn) => fn.metricDuration({ period: PERIOD, statistic: 'p90' })),
          { width: 8 },
        ),
      ],
    ];

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `makeit3d-bff-${props.stage}`,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}

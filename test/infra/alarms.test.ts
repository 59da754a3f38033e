import { beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTIONS } from '../../functions/api/routes.ts';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import { WORKFLOW_FUNCTIONS } from '../../functions/workflow/index.ts';
import { type CfnResource, SUPABASE_URL, SynthesizedStack } from './synthesized-stack.ts';

/**
 * Alarms mean something and reach someone: every alarm notifies the stage's SNS topic on ALARM and
 * OK, watches only what is the service's fault, treats no traffic as fine, and says what to do.
 */

const ALL_SOURCES = [
  ...API_FUNCTIONS.map((name) => `api/${name}`),
  ...Object.values(WORKFLOW_FUNCTIONS).map((name) => `workflow/${name}`),
  'workflow/reconcile-execution',
  'ops/reconcile-stuck-tasks',
];
/** Steps whose errors include the client's (moderation, bad input, a provider's refusal). */
const CLIENT_ERROR_STEPS = [
  'workflow/run-provider',
  'workflow/process-image',
  'workflow/submit-provider-job',
  'workflow/poll-provider-job',
];

let dev: SynthesizedStack;
let prod: SynthesizedStack;

beforeAll(() => {
  dev = new SynthesizedStack({ nonProductionStages: ['dev'], supabaseUrl: SUPABASE_URL });
  prod = new SynthesizedStack({
    stage: 'prod',
    supabaseUrl: SUPABASE_URL,
    alarmEmail: 'oncall@example.com',
    serviceFailureAlarmThreshold: '2',
    lambdaErrorAlarmThreshold: '1',
  });
});

const alarms = (stack: SynthesizedStack) => stack.ofType('AWS::CloudWatch::Alarm');
const alarmsOn = (stack: SynthesizedStack, metricName: string, dimension?: unknown) =>
  alarms(stack).filter(
    ([, alarm]) =>
      alarm.Properties.MetricName === metricName &&
      (dimension === undefined ||
        JSON.stringify(alarm.Properties.Dimensions).includes(JSON.stringify(dimension))),
  );
const functionDimension = (stack: SynthesizedStack, source: string) => ({
  Name: 'FunctionName',
  Value: { Ref: stack.functionId(source) },
});

describe('the alarm topic', () => {
  it('receives the ALARM and OK transitions of every alarm, and missing data never alarms', () => {
    const topicId = dev.only('AWS::SNS::Topic');
    const all = alarms(dev);
    expect(all.length).toBeGreaterThan(20);
    for (const [id, alarm] of all) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions, id).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.TreatMissingData, id).toBe('notBreaching');
      expect(alarm.Properties.ComparisonOperator, id).toBe('GreaterThanThreshold');
      // Each says which stage and what to look at, not only what crossed a line.
      expect(String(alarm.Properties.AlarmDescription), id).toMatch(/^MakeIt3D BFF \(dev\): .{60,}/);
    }
  });

  it('mails the stage alarm email when one is set, and has no subscription otherwise', () => {
    dev.template.resourceCountIs('AWS::SNS::Subscription', 0);
    prod.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: prod.only('AWS::SNS::Topic') },
    });
  });

  it('refuses plain-HTTP publishing', () => {
    const policy = dev.only('AWS::SNS::TopicPolicy');
    expect(JSON.stringify(dev.resource(policy).Properties)).toContain('aws:SecureTransport');
  });
});

describe('alarms', () => {
  it("fire on tasks failed by the service's fault, from the fail step's metric, not on failed executions", () => {
    const [serviceFailure] = alarmsOn(dev, METRIC.ServiceFailure);
    expect(serviceFailure?.[1].Properties).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
    });
    expect(alarmsOn(prod, METRIC.ServiceFailure)[0]?.[1].Properties.Threshold).toBe(2);
    // Every user-level failure (a moderated prompt) ends in the Fail state: never an alarm.
    expect(alarmsOn(dev, 'ExecutionsFailed')).toEqual([]);
  });

  it('fire on API 5xx answers above the stage threshold', () => {
    const apiId = dev.only('AWS::ApiGatewayV2::Api');
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }],
      Statistic: 'Sum',
      Threshold: 5,
    });
  });

  it('fire on executions timed out or aborted', () => {
    const machineId = dev.only('AWS::StepFunctions::StateMachine');
    for (const metricName of ['ExecutionsTimedOut', 'ExecutionsAborted']) {
      const found = alarmsOn(dev, metricName, { Name: 'StateMachineArn', Value: { Ref: machineId } });
      expect(found, metricName).toHaveLength(1);
      expect(found[0]?.[1].Properties.Threshold, metricName).toBe(0);
    }
  });

  it('fire on the first message in either reconciler dead-letter queue', () => {
    const queues = dev.ofType('AWS::SQS::Queue').map(([id]) => id);
    expect(queues).toHaveLength(2);
    for (const queue of queues) {
      const found = alarmsOn(dev, 'ApproximateNumberOfMessagesVisible', {
        Name: 'QueueName',
        Value: { 'Fn::GetAtt': [queue, 'QueueName'] },
      });
      expect(found, queue).toHaveLength(1);
      expect(found[0]?.[1].Properties.Threshold, queue).toBe(0);
    }
  });

  it('fire when the reconciler finds anything stuck, of any kind', () => {
    const stuck = alarms(dev).filter(([, alarm]) => JSON.stringify(alarm.Properties).includes('StuckFound'));
    expect(stuck).toHaveLength(1);
    const metrics = stuck[0]?.[1].Properties.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { Dimensions: { Name: string; Value: string }[]; Namespace: string } };
    }[];
    const kinds = metrics.flatMap((metric) =>
      metric.MetricStat ? [metric.MetricStat.Metric.Dimensions.find((d) => d.Name === 'kind')?.Value] : [],
    );
    expect(kinds.sort()).toEqual(['pending_task', 'processing_task', 'rows']);
    for (const metric of metrics.filter((entry) => entry.MetricStat)) {
      expect(metric.MetricStat?.Metric.Namespace).toBe(METRICS_NAMESPACE);
      expect(metric.MetricStat?.Metric.Dimensions).toContainEqual({ Name: 'service', Value: SERVICE_NAME });
    }
    const expression = metrics.find((metric) => metric.Expression)?.Expression ?? '';
    for (const metric of metrics.filter((entry) => entry.MetricStat)) expect(expression).toContain(metric.Id);
  });

  it("fire on any function's throttles, and on errors of functions whose errors are never the client's", () => {
    for (const source of ALL_SOURCES) {
      expect(alarmsOn(dev, 'Throttles', functionDimension(dev, source)), source).toHaveLength(1);
      const errors = alarmsOn(prod, 'Errors', functionDimension(prod, source));
      if (CLIENT_ERROR_STEPS.includes(source)) {
        expect(errors, source).toEqual([]);
      } else {
        expect(errors, source).toHaveLength(1);
        expect(errors[0]?.[1].Properties.Threshold, source).toBe(1);
      }
    }
  });

  it('are exactly these (the list the README gives)', () => {
    const names = (stack: SynthesizedStack) =>
      alarms(stack).map(([, alarm]: [string, CfnResource]) => String(alarm.Properties.MetricName ?? 'math'));
    const counts = Object.fromEntries(
      [...new Set(names(dev))].map((name) => [name, names(dev).filter((entry) => entry === name).length]),
    );
    expect(counts).toEqual({
      ServiceFailure: 1,
      '5xx': 1,
      ExecutionsTimedOut: 1,
      ExecutionsAborted: 1,
      ApproximateNumberOfMessagesVisible: 2,
      math: 1,
      Errors: ALL_SOURCES.length - CLIENT_ERROR_STEPS.length,
      Throttles: ALL_SOURCES.length,
    });
  });
});

describe('the stuck-task reconciler schedule', () => {
  it('runs reconcile-stuck-tasks every 5 minutes, with retries and a dead-letter queue', () => {
    const reconciler = dev.functionId('ops/reconcile-stuck-tasks');
    const rules = dev
      .ofType('AWS::Events::Rule')
      .filter(([, rule]) => rule.Properties.ScheduleExpression !== undefined);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.[1].Properties).toMatchObject({
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [reconciler, 'Arn'] },
          DeadLetterConfig: { Arn: expect.anything() },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        },
      ],
    });
    const targets = (rules[0]?.[1].Properties.Targets ?? []) as { DeadLetterConfig: { Arn: unknown } }[];
    const deadLetterArn = targets[0]?.DeadLetterConfig.Arn;
    // A run that fails after Lambda's retry lands in the same queue (and its alarm).
    dev.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: reconciler },
      MaximumRetryAttempts: 1,
      DestinationConfig: { OnFailure: { Destination: deadLetterArn } },
    });
  });

  it("gives the reconciler its deadlines, the processing one past the state machine's own timeout", () => {
    expect(dev.environment('ops/reconcile-stuck-tasks')).toMatchObject({
      STUCK_PENDING_SECONDS: '300',
      // TimeoutSeconds 7200 of state-machines/generation.asl.json + 600.
      STUCK_PROCESSING_SECONDS: '7800',
      STUCK_ROWS_SECONDS: '900',
    });
    const tuned = new SynthesizedStack({
      stage: 'qa',
      supabaseUrl: SUPABASE_URL,
      stuckPendingSeconds: '120',
      stuckRowsSeconds: '600',
    });
    expect(tuned.environment('ops/reconcile-stuck-tasks')).toMatchObject({
      STUCK_PENDING_SECONDS: '120',
      STUCK_PROCESSING_SECONDS: '7800',
      STUCK_ROWS_SECONDS: '600',
    });
  });
});

describe('the dashboard', () => {
  const body = () => {
    const dashboards = dev.ofType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.[1].Properties.DashboardName).toBe('makeit3d-bff-dev');
    return JSON.stringify(dashboards[0]?.[1].Properties.DashboardBody);
  };

  it('charts every service metric by its dimensions', () => {
    const text = body();
    const search = (metric: string, dimensions: string[]) =>
      `SEARCH('{${[METRICS_NAMESPACE, ...[...dimensions, 'service'].sort()].join(',')}} MetricName=\\\\\\"${metric}\\\\\\" service=\\\\\\"${SERVICE_NAME}\\\\\\"'`;
    expect(text).toContain(search(METRIC.TaskSubmitted, ['operation', 'provider']));
    expect(text).toContain(search(METRIC.TaskCompleted, ['operation', 'provider']));
    expect(text).toContain(search(METRIC.TaskFailed, ['operation', 'provider', 'error_code']));
    expect(text).toContain(search(METRIC.ResultBytes, ['operation', 'provider']));
    expect(text).toContain(search(METRIC.StuckFound, ['kind']));
    expect(text).toContain(search(METRIC.StuckResolved, ['kind', 'outcome']));
    for (const statistic of ['p50', 'p90', 'p99']) {
      expect(text).toContain(
        `${search(METRIC.ProviderLatency, ['provider', 'operation'])}, '${statistic}', 300)`,
      );
    }
    expect(text).toMatch(/MakeIt3D\/BFF\\",\\"ServiceFailure\\",\\"service\\",\\"makeit3d-bff/);
  });

  it('charts the API, the executions and every function', () => {
    const text = body();
    for (const metric of ['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency']) {
      expect(text, metric).toContain(`"AWS/ApiGateway\\",\\"${metric}\\"`);
    }
    for (const metric of [
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
      'ExecutionsAborted',
    ]) {
      expect(text, metric).toContain(`"AWS/States\\",\\"${metric}\\"`);
    }
    for (const source of ALL_SOURCES) {
      for (const metric of ['Errors', 'Throttles', 'Duration']) {
        expect(text, `${source} ${metric}`).toContain(
          `"AWS/Lambda\\",\\"${metric}\\",\\"FunctionName\\",\\"",{"Ref":"${dev.functionId(source)}"}`,
        );
      }
    }
  });
});

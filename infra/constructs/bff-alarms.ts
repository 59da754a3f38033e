import { Duration, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/observability/metrics.ts';
import type { Invoker } from './bff-function.ts';

/** The `kind` dimension values of StuckFound / StuckResolved (functions/core/observability/metrics.ts). */
export const STUCK_KINDS = ['pending_task', 'processing_task', 'rows'] as const;

/** Every alarm looks at five-minute sums. */
const PERIOD = Duration.minutes(5);

/** A BFF metric as the service writes it (EMF through Powertools always adds `service`). */
export function serviceMetric(
  metricName: string,
  dimensions: Record<string, string> = {},
  statistic = 'Sum',
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...dimensions },
    statistic,
    period: PERIOD,
  });
}

export interface AlarmedFunction {
  /** The function's source name, as in functions/ (e.g. `api/submit-generation`). */
  source: string;
  fn: IFunction;
  invoker: Invoker;
  /**
   * Whether any error of the function means something is wrong with the service. False for the
   * steps that call providers and fetch inputs: their errors are the workflow's vocabulary
   * (moderation, rejected input, a provider's refusal) and end in a task failure; the ones that
   * are the service's fault are counted by ServiceFailure.
   */
  errorsMeanTrouble: boolean;
}

export interface BffAlarmsProps {
  stage: string;
  alarmEmail?: string | undefined;
  httpApi: HttpApi;
  stateMachine: StateMachine;
  functions: readonly AlarmedFunction[];
  /** Dead-letter queues whose first message means an event was not handled. */
  deadLetterQueues: readonly { name: string; queue: IQueue; whatToDo: string }[];
  apiServerErrorThreshold: number;
  serviceFailureThreshold: number;
  lambdaErrorThreshold: number;
}

/**
 * Every alarm of a stage and where it is sent: one SNS topic (with an email subscription when the
 * stage names an address) receives each alarm's ALARM and OK transitions. Alarms watch only what
 * is the service's fault: a moderated prompt or a bad input never fires one. Missing data (no
 * traffic) is not breaching. Each description says what to look at first.
 */
export class BffAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: BffAlarmsProps) {
    super(scope, id);
    const prefix = `MakeIt3D BFF (${props.stage})`;
    this.topic = new Topic(this, 'Topic', {
      displayName: `${prefix} alarms`,
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and metric values, no customer data or secret; CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would add a key policy and a monthly cost for no data worth protecting',
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      const subscription = this.topic.node.tryFindChild(props.alarmEmail);
      if (subscription) {
        Validations.of(subscription).acknowledge({
          id: 'Serverless-SNSRedrivePolicy',
          reason:
            'An email subscription: a dead-letter queue of undelivered alarm mails would be read by no one, and every alarm state stays in CloudWatch (and on the dashboard) whether the mail arrives or not',
        });
      }
    }
    const action = new SnsAction(this.topic);

    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number): Alarm => {
      const created = new Alarm(this, alarmId, {
        alarmDescription: `${prefix}: ${description}`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    alarm(
      'ServiceFailureAlarm',
      'tasks failed by the service\'s fault (error_code internal, or provider_unavailable after retries: a provider or Supabase Storage down). Moderation and bad input are not counted. Look at the dashboard\'s "Tasks failed by error code" and the workflow functions\' logs for "Step failed".',
      serviceMetric(METRIC.ServiceFailure),
      props.serviceFailureThreshold,
    );
    alarm(
      'ApiServerErrorAlarm',
      "the API answered 5xx. Check the access logs (status, integrationErrorMessage, lambdaRequestId) and the API functions' logs for that request id; a 503 names a dependency (DynamoDB, Step Functions) that was unavailable.",
      props.httpApi.metricServerError({ period: PERIOD, statistic: 'Sum' }),
      props.apiServerErrorThreshold,
    );
    alarm(
      'ExecutionsTimedOutAlarm',
      'a generation execution hit the state machine timeout. Its task was failed by reconcile-execution; look at the execution history for the state that hung (usually a provider that never finished).',
      props.stateMachine.metricTimedOut({ period: PERIOD, statistic: 'Sum' }),
      0,
    );
    alarm(
      'ExecutionsAbortedAlarm',
      'a generation execution was aborted (someone stopped it, or a deployment replaced the state machine while it ran). Its task was failed by reconcile-execution; find who stopped it in CloudTrail (StopExecution).',
      props.stateMachine.metricAborted({ period: PERIOD, statistic: 'Sum' }),
      0,
    );
    for (const { name, queue, whatToDo } of props.deadLetterQueues) {
      alarm(
        `${name}DeadLettersAlarm`,
        `a message is waiting in the ${name} dead-letter queue: ${whatToDo}`,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        0,
      );
    }
    const stuck = Object.fromEntries(
      STUCK_KINDS.map((kind, index) => [`s${index}`, serviceMetric(METRIC.StuckFound, { kind })]),
    );
    alarm(
      'StuckTasksAlarm',
      'the reconciler found tasks left pending or processing, or rows left unsynchronised, past their deadline (it finishes or fails them). Something upstream failed: a submit that died before starting its execution, an execution that ended without finishing its task, or Supabase rows that kept failing. See the dashboard\'s "Stuck tasks" by kind and the reconcile-stuck-tasks logs.',
      new MathExpression({
        expression: Object.keys(stuck)
          .map((key) => `FILL(${key}, 0)`)
          .join(' + '),
        usingMetrics: stuck,
        period: PERIOD,
        label: 'Stuck tasks found',
      }),
      0,
    );

    for (const { source, fn, invoker, errorsMeanTrouble } of props.functions) {
      const name = pascal(source);
      if (errorsMeanTrouble) {
        alarm(
          `${name}ErrorsAlarm`,
          `${source} failed (an uncaught error or a timeout). Open its log group and search for level ERROR. ${ERRORS_CONSEQUENCE[invoker]}`,
          fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
          props.lambdaErrorThreshold,
        );
      }
      alarm(
        `${name}ThrottlesAlarm`,
        `${source} was throttled: the account's Lambda concurrency is exhausted. Check ConcurrentExecutions in the account and raise the quota, or find the function using it.`,
        fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        0,
      );
    }
  }
}

/** What a function error means, by who invoked it. */
const ERRORS_CONSEQUENCE: Record<Invoker, string> = {
  'api-gateway': 'The client got a 5xx from API Gateway instead of the API error shape.',
  'state-machine':
    'The state machine retries a failed step; a task it could not finish ends failed as internal (ServiceFailure).',
  eventbridge:
    'Lambda retries the event, then it lands in the dead-letter queue (its own alarm); the reconciler catches what is left.',
};

/** `api/submit-generation` -> `ApiSubmitGeneration`. */
function pascal(source: string): string {
  return source
    .split(/[/-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

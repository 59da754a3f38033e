import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Execution ends that the workflow's own FailTask path may not have recorded on the task. */
export const RECONCILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export interface GenerationWorkflowProps {
  stage: string;
  /** The ASL text, used as is: the file in state-machines/ is the single source of truth. */
  definition: string;
  /** Placeholder in the ASL (`${Name}`) -> the function whose ARN fills it. */
  taskFunctions: Record<string, IFunction>;
  /** Fails the task of an execution that ended FAILED, TIMED_OUT or ABORTED. */
  reconcileFunction: IFunction;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * The generation state machine (STANDARD: exactly-once steps, and execution names unique per
 * machine, which makes a repeated start with the same job id harmless), the rule that
 * reconciles executions ending without their task being failed, and an alarm on failures.
 */
export class GenerationWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly executionsFailedAlarm: Alarm;

  constructor(scope: Construct, id: string, props: GenerationWorkflowProps) {
    super(scope, id);
    const missing = placeholdersOf(props.definition).filter((name) => !(name in props.taskFunctions));
    if (missing.length > 0) {
      throw new Error(
        `The state machine definition uses placeholders with no function: ${missing.join(', ')}`,
      );
    }

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: `makeit3d-bff-${props.stage}-generation`,
      stateMachineType: StateMachineType.STANDARD,
      // fromString, not fromFile: the definition stays visible in the template (and its tests).
      definitionBody: DefinitionBody.fromString(props.definition),
      definitionSubstitutions: Object.fromEntries(
        Object.entries(props.taskFunctions).map(([placeholder, fn]) => [placeholder, fn.functionArn]),
      ),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'LogGroup', {
          retention: props.logRetention,
          removalPolicy: props.logRemovalPolicy,
        }),
        level: LogLevel.ERROR,
        // Execution data holds prompts and tenant ids; the task record already has what matters.
        includeExecutionData: false,
      },
    });
    // A string definition hides the Task resources from CDK, so invoke rights are explicit.
    for (const fn of new Set(Object.values(props.taskFunctions))) fn.grantInvoke(this.stateMachine);

    // Events the reconciler could not take wait here: undeliverable ones (EventBridge) and
    // ones whose handling kept failing after Lambda's own asynchronous retries.
    const reconcileDeadLetters = new Queue(this, 'ReconcileDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    props.reconcileFunction.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(reconcileDeadLetters),
    });
    new Rule(this, 'ReconcileEndedExecutions', {
      description: 'Fail the task of a generation execution that failed, timed out or was aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...RECONCILED_EXECUTION_STATUSES],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new LambdaTarget(props.reconcileFunction, {
          deadLetterQueue: reconcileDeadLetters,
          maxEventAge: Duration.hours(6),
          retryAttempts: 20,
        }),
      ],
    });

    this.executionsFailedAlarm = new Alarm(this, 'ExecutionsFailedAlarm', {
      alarmDescription: `MakeIt3D BFF (${props.stage}): generation executions failed`,
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    new Alarm(this, 'ExecutionsTimedOutAlarm', {
      alarmDescription: `MakeIt3D BFF (${props.stage}): generation executions timed out`,
      metric: this.stateMachine.metric('ExecutionsTimedOut', {
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    new Alarm(this, 'ReconcileDeadLettersAlarm', {
      alarmDescription: `MakeIt3D BFF (${props.stage}): an ended execution could not be reconciled; its task may stay processing`,
      metric: reconcileDeadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}

/** The `${Name}` placeholders of an ASL text. */
export function placeholdersOf(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] ?? ''))];
}

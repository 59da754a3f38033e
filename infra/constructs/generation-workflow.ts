import { Aws, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
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
 * machine, which makes a repeated start with the same job id harmless), and the rule that
 * reconciles executions ending without their task being failed. Its alarms are in BffAlarms.
 */
export class GenerationWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  /** Execution-end events the reconcile-execution function could not take. */
  readonly reconcileDeadLetters: Queue;

  constructor(scope: Construct, id: string, props: GenerationWorkflowProps) {
    super(scope, id);
    const missing = placeholdersOf(props.definition).filter((name) => !(name in props.taskFunctions));
    if (missing.length > 0) {
      throw new Error(
        `The state machine definition uses placeholders with no function: ${missing.join(', ')}`,
      );
    }

    this.stateMachineName = `makeit3d-bff-${props.stage}-generation`;
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
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
    // A string definition hides the Task resources from CDK, so invoke rights are explicit: the
    // function ARNs the definition names, not their versions and aliases (`<arn>:*`).
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [...new Set(Object.values(props.taskFunctions))].map((fn) => fn.functionArn),
      }),
    );
    const roleDefaultPolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (!roleDefaultPolicy) throw new Error('The state machine role has no default policy');
    Validations.of(roleDefaultPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Required by Step Functions itself: X-Ray tracing (PutTraceSegments, GetSamplingRules…) and CloudWatch Logs vended delivery (CreateLogDelivery, PutResourcePolicy…) support no resource-level permissions; its Lambda invocations name each function ARN',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        "Logs ERROR events only, without execution data (prompts, tenant ids): the task record and the functions' JSON logs hold what an operator needs, and ALL would log every state transition of every task",
    });

    // Events the reconciler could not take wait here: undeliverable ones (EventBridge) and
    // ones whose handling kept failing after Lambda's own asynchronous retries.
    const reconcileDeadLetters = new Queue(this, 'ReconcileDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    this.reconcileDeadLetters = reconcileDeadLetters;
    acknowledgeDeadLetterQueue(reconcileDeadLetters);
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
  }
}

/**
 * Lets a function ask how any execution of this state machine went (DescribeExecution). The
 * executions are named by job id, so the grant covers `execution:<state machine>:*` and nothing
 * beyond this state machine; written with the machine's name (a plain string, not a token) so the
 * acknowledged finding below names exactly this resource.
 */
export function grantDescribeExecutions(workflow: GenerationWorkflow, fn: LambdaFunction): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [
        `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${workflow.stateMachineName}:*`,
      ],
    }),
  );
  const defaultPolicy = fn.role?.node.tryFindChild('DefaultPolicy');
  if (!defaultPolicy) throw new Error(`${fn.node.path}: the role has no default policy`);
  Validations.of(defaultPolicy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${workflow.stateMachineName}:*]`,
    reason:
      "Executions are named by job id, unknown until a task exists: the wildcard covers this state machine's executions only, for DescribeExecution only",
  });
}

/**
 * Lets a function resume a task-token wait of this state machine (SendTaskSuccess: docs/api.md,
 * Webhooks), on the state machine only and for that action only. The ARN is written with the
 * machine's name (a plain string): the state machine names the token-recording function, so a
 * reference to the machine from that function's policy would be a dependency cycle.
 */
export function grantSendTaskSuccess(workflow: GenerationWorkflow, fn: LambdaFunction): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ['states:SendTaskSuccess'],
      resources: [
        `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:stateMachine:${workflow.stateMachineName}`,
      ],
    }),
  );
}

/** A queue that is itself a dead-letter queue: nothing redrives from it, so it has none. */
export function acknowledgeDeadLetterQueue(queue: Queue): void {
  const reason =
    'This queue is the dead-letter queue (EventBridge target DLQ and Lambda on-failure destination); an alarm fires on its first message, and an operator inspects and replays it';
  Validations.of(queue).acknowledge(
    { id: 'AwsSolutions-SQS3', reason },
    { id: 'Serverless-SQSRedrivePolicy', reason },
  );
}

/** The `${Name}` placeholders of an ASL text. */
export function placeholdersOf(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] ?? ''))];
}

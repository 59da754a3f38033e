import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeDeadLetterQueue } from './generation-workflow.ts';

export interface StuckTaskScheduleProps {
  /** functions/ops/reconcile-stuck-tasks.ts. */
  reconciler: IFunction;
  everyMinutes: number;
}

/**
 * Runs the stuck-task reconciler on a schedule. A run that cannot be delivered (EventBridge) or
 * that fails after Lambda's asynchronous retry lands in a dead-letter queue with an alarm: a
 * reconciler that keeps failing is itself something the owners must hear about, since nothing
 * else would finish the tasks it exists for.
 */
export class StuckTaskSchedule extends Construct {
  readonly deadLetters: Queue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: StuckTaskScheduleProps) {
    super(scope, id);
    this.deadLetters = new Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    });
    acknowledgeDeadLetterQueue(this.deadLetters);
    // One retry: the next scheduled run comes anyway, so a failing run is reported rather than
    // repeated for hours.
    props.reconciler.configureAsyncInvoke({
      retryAttempts: 1,
      maxEventAge: Duration.minutes(props.everyMinutes),
      onFailure: new SqsDestination(this.deadLetters),
    });
    this.rule = new Rule(this, 'Rule', {
      description: `Every ${props.everyMinutes} minutes: finish tasks and rows left unfinished past their deadline`,
      schedule: Schedule.rate(Duration.minutes(props.everyMinutes)),
      targets: [
        new LambdaTarget(props.reconciler, {
          deadLetterQueue: this.deadLetters,
          // A delivery older than one interval is superseded by the next run.
          maxEventAge: Duration.minutes(props.everyMinutes),
          retryAttempts: 2,
        }),
      ],
    });
  }
}

import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { getConfig, required } from '../config.ts';
import type { Task, TaskRef } from '../tasks/task.ts';

let client: SFNClient | undefined;

function sfnClient(): SFNClient {
  const config = getConfig();
  client ??= new SFNClient({
    region: config.AWS_REGION,
    // The local stack serves the Step Functions API itself; AWS needs no endpoint.
    ...(config.STEPFUNCTIONS_ENDPOINT ? { endpoint: config.STEPFUNCTIONS_ENDPOINT } : {}),
    maxAttempts: 3,
  });
  return client;
}

export function resetSfnClient(): void {
  client?.destroy();
  client = undefined;
}

/** The execution input of a task: the reference the submit path starts it with. */
export function taskRefOf(task: Task | TaskRef): TaskRef {
  const { tenant_id, job_id, client_task_id, operation, provider, params } = task;
  return { tenant_id, job_id, client_task_id, operation, provider, params };
}

/**
 * Starts the generation workflow for a task; the execution is named by the job id, so a
 * repeated start with the same input while it runs is harmless (Standard workflows de-duplicate
 * names). `exists`: an execution of that name already exists with another input or has ended
 * (StartExecution's ExecutionAlreadyExists): nothing new was started.
 */
export async function startTaskExecution(task: TaskRef): Promise<'started' | 'exists'> {
  const stateMachineArn = required(getConfig().STATE_MACHINE_ARN, 'STATE_MACHINE_ARN');
  try {
    await sfnClient().send(
      new StartExecutionCommand({ stateMachineArn, name: task.job_id, input: JSON.stringify(task) }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return 'exists';
    throw error;
  }
}

/** Where an execution stands (DescribeExecution's `status`). */
export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

/**
 * The status of the task's execution (named by its job id), or `undefined` when there is none
 * (ExecutionDoesNotExist: never started, or older than Step Functions keeps closed executions).
 */
export async function describeTaskExecution(jobId: string): Promise<ExecutionStatus | undefined> {
  const stateMachineArn = required(getConfig().STATE_MACHINE_ARN, 'STATE_MACHINE_ARN');
  // arn:aws:states:<region>:<account>:stateMachine:<machine> → …:execution:<machine>:<name>
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
  try {
    const answer = await sfnClient().send(new DescribeExecutionCommand({ executionArn }));
    return answer.status as ExecutionStatus;
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return undefined;
    throw error;
  }
}

import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { getConfig, required } from '../config.ts';
import type { TaskRef } from '../tasks/task.ts';

let client: SFNClient | undefined;

function sfnClient(): SFNClient {
  const config = getConfig();
  client ??= new SFNClient({
    region: config.AWS_REGION,
    // The local stack serves the StartExecution API itself; AWS needs no endpoint.
    ...(config.STEPFUNCTIONS_ENDPOINT ? { endpoint: config.STEPFUNCTIONS_ENDPOINT } : {}),
    maxAttempts: 3,
  });
  return client;
}

export function resetSfnClient(): void {
  client?.destroy();
  client = undefined;
}

/**
 * Starts the generation workflow for a task; the execution is named by the job id, so a
 * repeated start with the same input is harmless (Standard workflows de-duplicate names).
 */
export async function startTaskExecution(task: TaskRef): Promise<void> {
  const stateMachineArn = required(getConfig().STATE_MACHINE_ARN, 'STATE_MACHINE_ARN');
  try {
    await sfnClient().send(
      new StartExecutionCommand({ stateMachineArn, name: task.job_id, input: JSON.stringify(task) }),
    );
  } catch (error) {
    // Same name, different input: the job id already ran; nothing new to start.
    if (error instanceof ExecutionAlreadyExists) return;
    throw error;
  }
}

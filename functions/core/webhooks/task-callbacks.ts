import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { getConfig } from '../config.ts';

/**
 * Resumes an execution waiting on a task token (docs/api.md, Webhooks): the AWS SDK's
 * SendTaskSuccess, against Step Functions on AWS and against the local runner, which serves the
 * same API at STEPFUNCTIONS_ENDPOINT (as StartExecution is reached). What is sent is only a note
 * that a callback came: the execution polls the provider for the real status.
 */
export interface TaskCallbacks {
  /** False when the token is no longer waited on (timed out, execution over): harmless. */
  resume(token: string, output: Record<string, unknown>): Promise<boolean>;
}

let client: SFNClient | undefined;

/** Errors meaning "nobody waits on this token any more" (AWS Step Functions API Reference, SendTaskSuccess). */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export const taskCallbacks: TaskCallbacks = {
  async resume(token, output) {
    const config = getConfig();
    client ??= new SFNClient({
      region: config.AWS_REGION,
      ...(config.STEPFUNCTIONS_ENDPOINT ? { endpoint: config.STEPFUNCTIONS_ENDPOINT } : {}),
      maxAttempts: 3,
    });
    try {
      await client.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
      return true;
    } catch (error) {
      if (GONE.has((error as { name?: string }).name ?? '')) return false;
      throw error;
    }
  },
};

export function resetTaskCallbacksClient(): void {
  client?.destroy();
  client = undefined;
}

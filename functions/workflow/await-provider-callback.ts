import { logger } from '../core/logger.ts';
import { recordCallbackToken } from '../core/webhooks/callback-store.ts';
import { taskCallbacks } from '../core/webhooks/task-callbacks.ts';
import { workflowStep } from '../core/workflow/step.ts';
import { CallbackWaitInputSchema } from '../core/workflow/step-io.ts';

/**
 * State WaitForProviderCallback (`lambda:invoke.waitForTaskToken`): stores the execution's task
 * token on the task, where the provider's webhook finds it (functions/api/provider-webhook.ts),
 * and returns; the execution then waits for the token, or for its timeout, then polls. A webhook
 * that came before the token was stored left a note instead: the note is taken and the execution
 * resumed at once. So is a task no longer processing (the poll that follows sees why).
 */
export const handler = workflowStep(
  'WaitForProviderCallback',
  CallbackWaitInputSchema,
  async ({ task, token }) => {
    const recorded = await recordCallbackToken(task.tenant_id, task.job_id, token);
    if (recorded === 'stored') return { waiting: true };
    logger.info(
      recorded === 'callback-arrived'
        ? 'The provider webhook came before the wait began: resuming at once'
        : 'The task is no longer processing: resuming at once',
    );
    await taskCallbacks.resume(token, {
      via: recorded === 'callback-arrived' ? 'webhook' : 'not-processing',
    });
    return { waiting: false };
  },
);

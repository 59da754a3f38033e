import { afterAll, afterEach, beforeAll, beforeEach, expect, vi } from 'vitest';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import type { TaskRef } from '../../functions/core/tasks/task.ts';
import { taskRepository } from '../../functions/core/tasks/task-repository.ts';
import type { LocalStackOptions } from '../../infra/local/local-stack.ts';
import {
  fluxSandboxSettings,
  resetFluxSandbox,
  setFluxPendingPolls,
} from '../../infra/local/sandbox/flux.ts';
import { resetTripoSandbox } from '../../infra/local/sandbox/tripo.ts';
import { samplePng, startTestStack, type TestStack } from './local-stack.ts';

/**
 * Asynchronous jobs run through the real state machine on simulated time, for tests that count
 * state transitions (test/workflow/adaptive-polling.test.ts, webhook-callbacks.test.ts): only
 * `Date` is faked, and the runner's read-only Wait hook moves it by the seconds each Wait asked
 * for, so the BFF's elapsed time and deadlines and the simulators' progress see a task of many
 * minutes while the test takes seconds. No timers are faked and nothing depends on real time.
 * Registers the file's hooks; the simulators are reset before each test and the runner's hooks
 * after it.
 */
export interface SimulatedClockWorkflow {
  readonly stack: TestStack;
  /** A small PNG in the stack's storage, for operations that take an image. */
  readonly inputUrl: string;
  /** A validated task of the development tenant, as the submit handler would store it. */
  taskRef(operation: string, provider: string, body: Record<string, unknown>): TaskRef;
  /** The Flux job these tests follow: image-to-image of `inputUrl`. */
  fluxTaskRef(): TaskRef;
  /** Stores the task, runs its execution to the end, and reads the task back. */
  run(ref: TaskRef): Promise<{
    execution: ReturnType<TestStack['runner']['start']>;
    polls: number;
    /** The seconds the Waits asked for, in all. */
    simulatedSeconds: number;
    task: Awaited<ReturnType<typeof taskRepository.get>>;
  }>;
}

export const SIMULATED_TENANT = 'development_tenant';

export function simulatedClockWorkflow(
  name: string,
  options: LocalStackOptions = {},
): SimulatedClockWorkflow {
  let stack: TestStack | undefined;
  let inputUrl: string | undefined;
  let counter = 0;
  const outputScaleBefore = fluxSandboxSettings.outputScale;
  const pendingPollsBefore = fluxSandboxSettings.pendingPolls;

  beforeAll(async () => {
    stack = await startTestStack(options);
    inputUrl = await stack.upload(`uploads/${name}/input.png`, await samplePng(96, 64), 'image/png');
    fluxSandboxSettings.outputScale = 0.25;
  });

  afterAll(async () => {
    fluxSandboxSettings.outputScale = outputScaleBefore;
    setFluxPendingPolls(pendingPollsBefore);
    resetTripoSandbox();
    resetFluxSandbox();
    await stack?.stop();
  });

  beforeEach(() => {
    resetTripoSandbox();
    resetFluxSandbox();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    started().runner.onWait = ({ seconds }) => vi.setSystemTime(Date.now() + seconds * 1000);
  });

  afterEach(() => {
    started().runner.onWait = undefined;
    started().runner.onCallbackWait = undefined;
    vi.useRealTimers();
  });

  function started(): TestStack {
    if (!stack) throw new Error('The stack starts in beforeAll');
    return stack;
  }

  return {
    get stack() {
      return started();
    },
    get inputUrl() {
      if (inputUrl === undefined) throw new Error('The input is uploaded in beforeAll');
      return inputUrl;
    },
    fluxTaskRef() {
      return this.taskRef('image-to-image', 'flux', {
        prompt: 'make it a watercolour',
        input_image_asset_url: this.inputUrl,
      });
    },
    taskRef(operation, provider, body) {
      counter += 1;
      const { params, clientTaskId } = validateGeneration(operation, {
        task_id: `${name}-${counter}`,
        provider,
        ...body,
      });
      return {
        tenant_id: SIMULATED_TENANT,
        job_id: `${name}-${counter}-${Date.now()}`,
        client_task_id: clientTaskId,
        operation,
        provider,
        params,
      };
    },
    async run(ref) {
      expect(await taskRepository.create(ref)).toBe(true);
      const execution = started().runner.start(ref.job_id, JSON.stringify(ref));
      await execution.done;
      const polls = execution.states.filter((state) => state === 'PollProviderJob').length;
      const simulatedSeconds = execution.waits.reduce((total, wait) => total + wait, 0);
      return {
        execution,
        polls,
        simulatedSeconds,
        task: await taskRepository.get(SIMULATED_TENANT, ref.job_id),
      };
    },
  };
}

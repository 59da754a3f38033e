import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { WORKFLOW_FUNCTIONS, type WorkflowFunctionName } from '../../functions/workflow/index.ts';
import { readBody, sendJson } from './http-utils.ts';

/**
 * Step Functions on one machine: the ASL file the stack deploys, with each `${…}` placeholder
 * filled by a local Lambda ARN and every Task bound to the in-process handler the stack deploys
 * for that ARN (a Task with no binding would call real AWS, so one without is an error). The
 * StartExecution API is served over HTTP so the submit handler's SDK call runs unchanged.
 *
 * A `lambda:invoke.waitForTaskToken` Task (WaitForProviderCallback) is bound to the function its
 * `FunctionName` names, and the wait is done here: a fresh token replaces `$$.Task.Token` in the
 * Payload, the function runs, then the state waits until SendTaskSuccess / SendTaskFailure (served
 * on the same endpoint as StartExecution, so the webhook handler's SDK call runs unchanged) or its
 * timeout (`TimeoutSecondsPath`, read from the Payload, in real seconds unless a test ends it
 * first through `onCallbackWait`).
 */

type LocalHandler = (input: unknown) => Promise<unknown>;

export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:makeit3d-generation';

/** The Step Functions resource of a Lambda invoke that waits for a task token. */
export const WAIT_FOR_TASK_TOKEN_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/** What `$$.Task.Token` reads locally; each wait replaces it with a token of its own. */
const TOKEN_PLACEHOLDER = 'local-task-token';

export function localFunctionArn(name: string): string {
  return `arn:aws:lambda:local:000000000000:function:${name}`;
}

/** The deployed definition with the same substitutions CDK makes, but local ARNs. */
export function localDefinition(file: string): StateMachineDefinition {
  let text = readFileSync(file, 'utf8');
  for (const [placeholder, name] of Object.entries(WORKFLOW_FUNCTIONS)) {
    text = text.replaceAll(`\${${placeholder}}`, localFunctionArn(name));
  }
  const unresolved = text.match(/\$\{[A-Za-z0-9_]+\}/);
  if (unresolved) throw new Error(`State machine placeholder ${unresolved[0]} has no local binding`);
  return JSON.parse(text) as StateMachineDefinition;
}

interface StateInfo {
  name: string;
  type: string;
  resource?: string;
  hasRetry: boolean;
  /** A Wait state's `Seconds` or `SecondsPath`. */
  seconds?: number | string;
  /** A Task state's `Parameters` and `TimeoutSecondsPath`. */
  parameters?: Record<string, unknown>;
  timeoutSecondsPath?: string;
}

function collectStates(states: Record<string, unknown>, into: StateInfo[] = []): StateInfo[] {
  for (const [name, raw] of Object.entries(states)) {
    const state = raw as {
      Type: string;
      Resource?: string;
      Retry?: unknown[];
      Seconds?: number;
      SecondsPath?: string;
      Parameters?: Record<string, unknown>;
      TimeoutSecondsPath?: string;
      Branches?: { States: Record<string, unknown> }[];
      Iterator?: { States: Record<string, unknown> };
      ItemProcessor?: { States: Record<string, unknown> };
    };
    into.push({
      name,
      type: state.Type,
      hasRetry: (state.Retry?.length ?? 0) > 0,
      ...(state.Resource ? { resource: state.Resource } : {}),
      ...((state.Seconds ?? state.SecondsPath) !== undefined
        ? { seconds: state.Seconds ?? state.SecondsPath }
        : {}),
      ...(state.Parameters ? { parameters: state.Parameters } : {}),
      ...(state.TimeoutSecondsPath ? { timeoutSecondsPath: state.TimeoutSecondsPath } : {}),
    });
    for (const branch of state.Branches ?? []) collectStates(branch.States, into);
    if (state.Iterator) collectStates(state.Iterator.States, into);
    if (state.ItemProcessor) collectStates(state.ItemProcessor.States, into);
  }
  return into;
}

export interface ExecutionRecord {
  name: string;
  arn: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startDate: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
  /** Names of the states entered, in order (the execution's event history, abridged). */
  states: string[];
  /** Seconds each Wait state entered asked for, in order (the runner itself waits `waitMs`). */
  waits: number[];
  /** Each task-token wait: its timeout and how it ended (`callback`, `timeout`, `failure`). */
  callbackWaits: { state: string; seconds: number; ended?: 'callback' | 'timeout' | 'failure' }[];
  done: Promise<void>;
}

export interface RunnerOptions {
  definitionFile: string;
  handlers: Record<WorkflowFunctionName, LocalHandler>;
  /** Milliseconds each Wait state lasts locally (0 in tests). */
  waitMs: number;
  /** Milliseconds between retries locally; undefined keeps the ASL's own backoff. */
  retryIntervalMs?: number | undefined;
  /** Called when an execution ends FAILED, as EventBridge calls the reconcile Lambda in AWS. */
  onExecutionFailed: (event: unknown) => Promise<void>;
}

export class LocalExecutionRunner {
  private readonly machine: StateMachine;
  private readonly taskHandlers: Record<string, LocalHandler> = {};
  private readonly waitOverrides: Record<string, number> = {};
  private readonly retryOverrides: Record<string, number> = {};
  readonly executions = new Map<string, ExecutionRecord>();
  /**
   * Faults of the Step Functions API this runner serves (its network edge, for tests): while an
   * operation (`StartExecution`, `DescribeExecution`) is listed, each call of it answers AWS's
   * 500 ServiceUnavailable. Clear the list to end them; `failed` counts the calls answered so.
   */
  readonly apiFaults: { operations: string[]; failed: number } = { operations: [], failed: 0 };
  /**
   * Read-only hook for tests: called as each Wait state is entered, with the seconds it asked for
   * (a test's simulated clock can move by them). It runs from the execution's event log, which
   * is drained in microtasks, so it has run before the state after the Wait does any I/O.
   */
  onWait: ((wait: { execution: string; state: string; seconds: number }) => void) | undefined;
  /**
   * Hook for tests: called once a task-token wait has begun (its function has run), with its
   * timeout in seconds and `expire()`, which ends it as its timeout would, at once. Without a
   * call to it the wait lasts until the token comes back or `seconds` of real time pass.
   */
  onCallbackWait:
    | ((wait: {
        execution: string;
        state: string;
        seconds: number;
        token: string;
        expire: () => void;
      }) => void)
    | undefined;
  private readonly waitSeconds: Record<string, number | string> = {};
  private readonly tokenWaits = new Map<
    string,
    {
      resolve: (output: unknown) => void;
      reject: (error: Error) => void;
      ended: (how: 'callback' | 'failure') => void;
    }
  >();
  /** Tokens whose wait is over (SendTaskSuccess for one answers TaskTimedOut, as AWS does). */
  private readonly closedTokens = new Set<string>();

  constructor(private readonly options: RunnerOptions) {
    const definition = localDefinition(options.definitionFile);
    const byArn = new Map<string, LocalHandler>();
    for (const name of Object.values(WORKFLOW_FUNCTIONS))
      byArn.set(localFunctionArn(name), options.handlers[name]);
    for (const state of collectStates(definition.States as Record<string, unknown>)) {
      if (state.type === 'Task' && state.resource === WAIT_FOR_TASK_TOKEN_RESOURCE) {
        const functionArn = state.parameters?.FunctionName;
        const handler = typeof functionArn === 'string' ? byArn.get(functionArn) : undefined;
        if (!handler)
          throw new Error(`Task state ${state.name} (${String(functionArn)}) has no local binding`);
        this.taskHandlers[state.name] = this.tokenWait(state.name, handler, state.timeoutSecondsPath);
      } else if (state.type === 'Task') {
        const handler = state.resource ? byArn.get(state.resource) : undefined;
        if (!handler) throw new Error(`Task state ${state.name} (${state.resource}) has no local binding`);
        this.taskHandlers[state.name] = handler;
      }
      if (state.type === 'Wait') {
        this.waitOverrides[state.name] = options.waitMs;
        if (state.seconds !== undefined) this.waitSeconds[state.name] = state.seconds;
      }
      if (state.hasRetry && options.retryIntervalMs !== undefined)
        this.retryOverrides[state.name] = options.retryIntervalMs;
    }
    // aws-local-stepfunctions 3.0.0 reads TimeoutSecondsPath from the input after Parameters
    // (Step Functions reads the state input) and times out on a real timer: the token waits' own
    // timeout (tokenWait) replaces it.
    for (const raw of Object.values(
      definition.States as unknown as Record<string, Record<string, unknown>>,
    )) {
      if (raw.Type === 'Task' && raw.Resource === WAIT_FOR_TASK_TOKEN_RESOURCE && raw.TimeoutSecondsPath) {
        delete raw.TimeoutSecondsPath;
        raw.TimeoutSeconds = 86_400;
      }
    }
    this.machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  }

  start(name: string, input: string): ExecutionRecord {
    const existing = this.executions.get(name);
    if (existing) {
      if (existing.input !== input) throw new ExecutionExistsError(name);
      return existing;
    }
    const record: ExecutionRecord = {
      name,
      arn: `${LOCAL_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
      input,
      status: 'RUNNING',
      startDate: new Date(),
      states: [],
      waits: [],
      callbackWaits: [],
      done: Promise.resolve(),
    };
    const execution = this.machine.run(JSON.parse(input), {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers as Record<string, (input: unknown) => Promise<never>>,
        waitTimeOverrides: this.waitOverrides,
        retryIntervalOverrides: this.retryOverrides,
      },
      context: {
        Execution: { Id: record.arn, Name: name, StartTime: record.startDate.toISOString() },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
    });
    const history = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type !== 'StateEntered') continue;
        record.states.push(event.state.name);
        if (event.state.type === 'Wait') this.recordWait(record, event.state.name, event.state.input);
      }
    })().catch(() => undefined);
    record.done = execution.result.then(
      async () => {
        await history;
        record.status = 'SUCCEEDED';
        record.stopDate = new Date();
      },
      async (error: unknown) => {
        await history;
        record.status = 'FAILED';
        record.stopDate = new Date();
        const cause = (error as { cause?: { name?: string; message?: string } }).cause;
        record.error = cause?.name ?? (error as Error).name;
        record.cause = cause?.message ?? (error as Error).message;
        await this.options
          .onExecutionFailed({
            source: 'aws.states',
            'detail-type': 'Step Functions Execution Status Change',
            detail: {
              status: 'FAILED',
              name,
              executionArn: record.arn,
              input,
              error: record.error,
              cause: record.cause,
            },
          })
          .catch(() => undefined);
      },
    );
    this.executions.set(name, record);
    return record;
  }

  /** What a Wait state asked for: its `Seconds`, or its simple `$.a.b` `SecondsPath` read from its input. */
  private recordWait(record: ExecutionRecord, state: string, input: unknown): void {
    const spec = this.waitSeconds[state];
    let seconds: unknown = spec;
    if (typeof spec === 'string') {
      seconds = input;
      for (const key of spec
        .replace(/^\$\.?/, '')
        .split('.')
        .filter(Boolean)) {
        seconds = (seconds as Record<string, unknown> | undefined)?.[key];
      }
    }
    if (typeof seconds !== 'number') return;
    record.waits.push(seconds);
    this.onWait?.({ execution: record.name, state, seconds });
  }

  /**
   * The local `lambda:invoke.waitForTaskToken`: runs the function with a token of this wait's
   * own in its Payload, then waits for that token to come back (SendTaskSuccess / Failure), or
   * for the timeout, which fails the state with States.Timeout as Step Functions does. The
   * execution is the task's (executions are named by job id, which the Payload carries).
   */
  private tokenWait(
    state: string,
    handler: LocalHandler,
    timeoutSecondsPath: string | undefined,
  ): LocalHandler {
    return async (input: unknown) => {
      const payload = { ...((input as { Payload?: Record<string, unknown> }).Payload ?? {}) };
      const token = `local-token-${randomUUID()}`;
      if (payload.token === TOKEN_PLACEHOLDER) payload.token = token;
      const executionName = String((payload.task as { job_id?: unknown } | undefined)?.job_id ?? '');
      const record = this.executions.get(executionName);
      const seconds = Math.max(1, Number(readPath(payload, timeoutSecondsPath) ?? 60));
      const entry: ExecutionRecord['callbackWaits'][number] = { state, seconds };
      record?.callbackWaits.push(entry);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<unknown>((resolve, reject) => {
        this.tokenWaits.set(token, {
          resolve,
          reject,
          ended: (how) => {
            entry.ended ??= how;
          },
        });
      });
      // It may be settled (by the hook, or a resume from inside the function) before it is awaited.
      waited.catch(() => undefined);
      const close = () => {
        clearTimeout(timer);
        this.tokenWaits.delete(token);
        this.closedTokens.add(token);
        if (this.closedTokens.size > 10_000) this.closedTokens.clear();
      };
      const expire = () => {
        const waiting = this.tokenWaits.get(token);
        if (!waiting) return;
        entry.ended ??= 'timeout';
        const timeout = new Error('Task timed out waiting for its task token');
        timeout.name = 'States.Timeout';
        waiting.reject(timeout);
      };
      try {
        await handler(payload);
      } catch (error) {
        close();
        throw error;
      }
      timer = setTimeout(expire, seconds * 1000);
      timer.unref();
      this.onCallbackWait?.({ execution: executionName, state, seconds, token, expire });
      try {
        return await waited;
      } finally {
        close();
      }
    };
  }

  /** Resolves when every execution started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((record) => record.done));
  }

  /** The StartExecution / DescribeExecution part of the Step Functions JSON API. */
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const body = JSON.parse((await readBody(request, 1024 * 1024)).toString('utf8') || '{}') as Record<
      string,
      unknown
    >;
    const awsError = (status: number, type: string, message: string) =>
      sendJson(
        response,
        status,
        { __type: type, message },
        { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type },
      );
    const operation = target.split('.').pop() ?? '';
    if (this.apiFaults.operations.includes(operation)) {
      this.apiFaults.failed += 1;
      awsError(500, 'ServiceUnavailable', 'Service Unavailable (injected)');
      return;
    }
    if (target === 'AWSStepFunctions.StartExecution') {
      if (body.stateMachineArn !== LOCAL_STATE_MACHINE_ARN) {
        awsError(
          400,
          'StateMachineDoesNotExist',
          `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`,
        );
        return;
      }
      const name = typeof body.name === 'string' ? body.name : crypto.randomUUID();
      // As AWS answers (AWS Step Functions API Reference, StartExecution `name`,
      // https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html,
      // checked 2026-12): a repeated name is accepted only while that execution is open and with
      // the same input; once it is closed, ExecutionAlreadyExists whatever the input.
      const existing = this.executions.get(name);
      if (existing && existing.status !== 'RUNNING') {
        awsError(400, 'ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
        return;
      }
      try {
        const record = this.start(name, typeof body.input === 'string' ? body.input : '{}');
        sendJson(
          response,
          200,
          { executionArn: record.arn, startDate: record.startDate.getTime() / 1000 },
          { 'content-type': 'application/x-amz-json-1.0' },
        );
      } catch (error) {
        if (error instanceof ExecutionExistsError) awsError(400, 'ExecutionAlreadyExists', error.message);
        else throw error;
      }
      return;
    }
    if (target === 'AWSStepFunctions.SendTaskSuccess' || target === 'AWSStepFunctions.SendTaskFailure') {
      const token = String(body.taskToken ?? '');
      const waiting = this.tokenWaits.get(token);
      if (!waiting) {
        if (this.closedTokens.has(token)) awsError(400, 'TaskTimedOut', 'Task Timed Out');
        else awsError(400, 'InvalidToken', 'Invalid Token');
        return;
      }
      if (target === 'AWSStepFunctions.SendTaskSuccess') {
        let output: unknown;
        try {
          output = JSON.parse(typeof body.output === 'string' ? body.output : 'null');
        } catch {
          awsError(400, 'InvalidOutput', 'Invalid Output');
          return;
        }
        waiting.ended('callback');
        waiting.resolve(output);
      } else {
        waiting.ended('failure');
        const failure = new Error(typeof body.cause === 'string' ? body.cause : '');
        failure.name = typeof body.error === 'string' && body.error ? body.error : 'States.TaskFailed';
        waiting.reject(failure);
      }
      this.tokenWaits.delete(token);
      this.closedTokens.add(token);
      sendJson(response, 200, {}, { 'content-type': 'application/x-amz-json-1.0' });
      return;
    }
    if (target === 'AWSStepFunctions.DescribeExecution') {
      const name =
        String(body.executionArn ?? '')
          .split(':')
          .pop() ?? '';
      const record = this.executions.get(name);
      if (!record) {
        awsError(400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${String(body.executionArn)}'`);
        return;
      }
      sendJson(
        response,
        200,
        {
          executionArn: record.arn,
          stateMachineArn: LOCAL_STATE_MACHINE_ARN,
          name: record.name,
          status: record.status,
          startDate: record.startDate.getTime() / 1000,
          ...(record.stopDate ? { stopDate: record.stopDate.getTime() / 1000 } : {}),
          input: record.input,
          ...(record.error ? { error: record.error, cause: record.cause } : {}),
        },
        { 'content-type': 'application/x-amz-json-1.0' },
      );
      return;
    }
    awsError(400, 'UnknownOperationException', `The local Step Functions API does not serve ${target}`);
  }
}

/** A simple `$.a.b` path read from `value` (undefined when absent or not simple). */
function readPath(value: unknown, path: string | undefined): unknown {
  if (!path) return undefined;
  let current = value;
  for (const key of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    current = (current as Record<string, unknown> | undefined)?.[key];
  }
  return current;
}

export class ExecutionExistsError extends Error {
  override readonly name = 'ExecutionExistsError';
  constructor(name: string) {
    super(`Execution Already Exists: '${name}'`);
  }
}

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
 */

type LocalHandler = (input: unknown) => Promise<unknown>;

export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:makeit3d-generation';

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
}

function collectStates(states: Record<string, unknown>, into: StateInfo[] = []): StateInfo[] {
  for (const [name, raw] of Object.entries(states)) {
    const state = raw as {
      Type: string;
      Resource?: string;
      Retry?: unknown[];
      Seconds?: number;
      SecondsPath?: string;
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
  private readonly waitSeconds: Record<string, number | string> = {};

  constructor(private readonly options: RunnerOptions) {
    const definition = localDefinition(options.definitionFile);
    const byArn = new Map<string, LocalHandler>();
    for (const name of Object.values(WORKFLOW_FUNCTIONS))
      byArn.set(localFunctionArn(name), options.handlers[name]);
    for (const state of collectStates(definition.States as Record<string, unknown>)) {
      if (state.type === 'Task') {
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
      done: Promise.resolve(),
    };
    const execution = this.machine.run(JSON.parse(input), {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers as Record<string, (input: unknown) => Promise<never>>,
        waitTimeOverrides: this.waitOverrides,
        retryIntervalOverrides: this.retryOverrides,
      },
      context: { Execution: { Id: record.arn, Name: name, StartTime: record.startDate.toISOString() } },
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

export class ExecutionExistsError extends Error {
  override readonly name = 'ExecutionExistsError';
  constructor(name: string) {
    super(`Execution Already Exists: '${name}'`);
  }
}

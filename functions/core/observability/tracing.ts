import type { Tracer } from '@aws-lambda-powertools/tracer';
import { SERVICE_NAME } from './metrics.ts';
import { redactText } from './redaction.ts';

/**
 * X-Ray subsegments around provider calls, through Powertools for AWS Lambda (Tracer). Only in
 * Lambda: the Tracer (and the X-Ray SDK under it) is loaded only where Powertools would enable
 * it, and only by the first traced call (so workflow functions that call no provider never load
 * it); the local host and tests never load it, and nothing here needs X-Ray or fails without it.
 * In Lambda, Powertools also traces every HTTP call (fetch, the AWS SDK) made once it is loaded.
 * Imported by the workflow steps only: the API functions' bundles stay without it.
 */

/**
 * Powertools' own rule (Tracer `setTracingEnabled`, 2.36): tracing runs in a Lambda execution
 * environment (AWS_EXECUTION_ENV), not under SAM local, unless POWERTOOLS_TRACE_ENABLED=false.
 */
function tracingWanted(): boolean {
  return (
    Boolean(process.env.AWS_EXECUTION_ENV) &&
    !process.env.AWS_SAM_LOCAL &&
    (process.env.POWERTOOLS_TRACE_ENABLED ?? '').trim().toLowerCase() !== 'false'
  );
}

let loading: Promise<Tracer | undefined> | undefined;

function tracer(): Promise<Tracer | undefined> {
  loading ??= tracingWanted()
    ? import('@aws-lambda-powertools/tracer').then(
        ({ Tracer: PowertoolsTracer }) => new PowertoolsTracer({ serviceName: SERVICE_NAME }),
        () => undefined,
      )
    : Promise.resolve(undefined);
  return loading;
}

type Subsegment = NonNullable<Parameters<Parameters<Tracer['provider']['captureAsyncFunc']>[1]>[0]>;

/** The error as a trace records it: name, message and stack, with secrets scrubbed as in the logs. */
function traceError(error: unknown): Error {
  const recorded = new Error(redactText(error instanceof Error ? error.message : String(error)));
  recorded.name = error instanceof Error ? error.name : 'Error';
  // The stack's first line repeats the message, so it is scrubbed too.
  if (error instanceof Error && error.stack) recorded.stack = redactText(error.stack);
  return recorded;
}

/** Subsegment bookkeeping that fails is dropped: the trace is worth less than the work. */
function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // Nothing to do: X-Ray drops an incomplete subsegment.
  }
}

/** Whether there is a segment to add to (Lambda's, for the invocation). */
function hasSegment(active: Tracer): boolean {
  try {
    return active.isTracingEnabled() && active.getSegment() !== undefined;
  } catch {
    return false;
  }
}

/**
 * Runs `work` inside a subsegment `name` with `annotations` (searchable in X-Ray), recording its
 * error. The subsegment is the current one only for `work`'s own asynchronous context (the X-Ray
 * SDK's capture runs it in a context of its own), so concurrent work is never filed under it.
 * Tracing problems never reach `work`: without a tracer or a segment it just runs.
 */
export async function traced<T>(
  name: string,
  annotations: Record<string, string>,
  work: () => Promise<T>,
): Promise<T> {
  const active = await tracer();
  if (!active || !hasSegment(active)) return work();
  let started = false;
  const inSubsegment = async (subsegment?: Subsegment): Promise<T> => {
    started = true;
    quietly(() => {
      for (const [key, value] of Object.entries(annotations)) subsegment?.addAnnotation(key, value);
    });
    try {
      return await work();
    } catch (error) {
      quietly(() => subsegment?.addError(traceError(error)));
      throw error;
    } finally {
      quietly(() => subsegment?.close());
    }
  };
  try {
    return (await active.provider.captureAsyncFunc(name, inSubsegment)) as T;
  } catch (error) {
    // Thrown by the work: passed on. Thrown by X-Ray before the work began: the work runs untraced.
    if (started) throw error;
    return work();
  }
}

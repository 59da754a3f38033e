import { parentPort, workerData } from 'node:worker_threads';

/**
 * The worker-thread side of ThreadedHandler (image-worker.ts): imports one workflow handler and
 * answers each `{ id, event }` with its result or the error it threw.
 */

export interface WorkerCall {
  id: number;
  event: unknown;
}

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; stack?: string; properties: Record<string, unknown> };
    };

/** Own fields of the error that survive structured cloning (statusCode, issues, …). */
function cloneableProperties(error: object): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  // `cause` is not enumerable, but the logs want it.
  const entries = Object.entries(error);
  if ('cause' in error) entries.push(['cause', error.cause]);
  for (const [key, value] of entries) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    try {
      properties[key] = structuredClone(value);
    } catch {
      // A field that cannot cross threads (a function, a socket) is left behind.
    }
  }
  return properties;
}

function serializeError(error: unknown): Extract<WorkerReply, { ok: false }>['error'] {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      properties: cloneableProperties(error),
    };
  }
  return { name: 'Error', message: String(error), properties: {} };
}

const port = parentPort;
if (!port) throw new Error('image-worker-thread.ts runs only as a worker thread');
const { handlerModule } = workerData as { handlerModule: string };
const { handler } = (await import(handlerModule)) as { handler: (event: unknown) => Promise<unknown> };

function reply(message: WorkerReply): void {
  try {
    port?.postMessage(message);
  } catch (error) {
    // A result that cannot be cloned still answers the call, as a failure, instead of never.
    port?.postMessage({ id: message.id, ok: false, error: serializeError(error) } satisfies WorkerReply);
  }
}

port.on('message', ({ id, event }: WorkerCall) => {
  handler(event).then(
    (result) => reply({ id, ok: true, result }),
    (error: unknown) => reply({ id, ok: false, error: serializeError(error) }),
  );
});

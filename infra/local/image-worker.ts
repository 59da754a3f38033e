import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { WorkerReply } from './image-worker-thread.ts';

/**
 * Runs a workflow Lambda's handler on a worker thread. In AWS the image step (state ProcessImage)
 * has a Lambda of its own; on one machine, decoding and re-encoding a 12-megapixel photo on the
 * host's event loop would stall every other request (the API, storage, the simulators) for
 * seconds. One worker is started on first use and reused; `close()` ends it.
 */

/**
 * What Step Functions reports for a Lambda that ended without returning an error (out of memory,
 * a crash): https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
 * (checked 2026-12). A worker that dies mid-call is the local equivalent.
 */
const UNHANDLED_ERROR = 'Lambda.Unknown';

const THREAD_FILE = new URL('./image-worker-thread.ts', import.meta.url);

/** The worker is a fresh thread: it loads tsx itself, under `npm start` and under vitest alike. */
function typeScriptLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The error as the handler threw it: same name and message, so the ASL's Retry/Catch match. */
function rebuildError(reply: Extract<WorkerReply, { ok: false }>['error']): Error {
  const error = new Error(reply.message);
  Object.assign(error, reply.properties);
  Object.defineProperty(error, 'name', { value: reply.name, enumerable: true, configurable: true });
  if (reply.stack !== undefined) error.stack = reply.stack;
  return error;
}

/** One worker and the calls it has not answered yet. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set by close(): the worker's exit is then the host stopping, not a crash. */
  closing: boolean;
}

export class ThreadedHandler {
  private thread: Thread | undefined;
  private nextId = 0;

  /** `handlerModule`: a module whose `handler` export takes the state's input and returns its output. */
  constructor(private readonly handlerModule: URL) {}

  /** The handler, as the execution runner calls it. */
  readonly invoke = (event: unknown): Promise<unknown> => {
    const { worker, pending } = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, event });
    });
  };

  private start(): Thread {
    if (this.thread) return this.thread;
    const worker = new Worker(THREAD_FILE, {
      execArgv: ['--import', typeScriptLoader()],
      // The handler reads its configuration from the environment the local stack has just set.
      env: SHARE_ENV,
      workerData: { handlerModule: this.handlerModule.href },
    });
    // An idle worker must not keep the process alive; the host's server does that.
    worker.unref();
    const thread: Thread = { worker, pending: new Map(), closing: false };
    worker.on('message', (reply: WorkerReply) => {
      const call = thread.pending.get(reply.id);
      if (!call) return;
      thread.pending.delete(reply.id);
      if (reply.ok) call.resolve(reply.result);
      else call.reject(rebuildError(reply.error));
    });
    const fail = (cause: string) => {
      // The next call starts a new worker.
      if (this.thread === thread) this.thread = undefined;
      if (thread.closing) return;
      for (const call of thread.pending.values()) {
        const error = new Error(cause);
        error.name = UNHANDLED_ERROR;
        call.reject(error);
      }
      thread.pending.clear();
    };
    worker.on('error', (error) => fail(`The image worker failed: ${error.message}`));
    worker.on('exit', (code) => fail(`The image worker exited with code ${code}`));
    this.thread = thread;
    return thread;
  }

  /**
   * Ends the worker. A call still running never settles, as if the whole host had stopped: its
   * task stays unfinished and the next start runs it again (a worker that dies on its own, by
   * contrast, fails its calls as a crashed Lambda would).
   */
  async close(): Promise<void> {
    const thread = this.thread;
    this.thread = undefined;
    if (!thread) return;
    thread.closing = true;
    thread.pending.clear();
    await thread.worker.terminate();
  }
}

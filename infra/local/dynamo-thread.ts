import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The local DynamoDB (dynalite, data on disk) on a worker thread of its own. Every API request
 * makes two or three DynamoDB calls (the key, the rate-limit counter, the task); run on the
 * host's event loop, dynalite's request parsing, validation and LevelDB work took about a third
 * of the main thread's time under a status-read load, time the API could not use. On its own
 * thread the same server, on the same files, runs beside the API: the handlers still reach it
 * over HTTP at DYNAMODB_ENDPOINT, exactly as before.
 */

export interface DynamoThread {
  port: number;
  /** Closes the server and its database (flushing it to disk), then ends the thread. */
  close(): Promise<void>;
}

export interface DynamoThreadOptions {
  path: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

/**
 * The thread's code: plain CommonJS run with `eval`, so the thread starts without a TypeScript
 * loader (dynalite is CommonJS itself). It answers `{port}` once listening or `{error}`, and
 * `{closed: true}` once a `close` message has closed the server and the database.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dynalite = require(workerData.dynalite);
const server = dynalite(workerData.options);
server.once('error', (error) => parentPort.postMessage({ error: error.message }));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  server.close(() => {
    parentPort.postMessage({ closed: true });
    parentPort.close();
  });
});
`;

export function startDynamoThread(options: DynamoThreadOptions): Promise<DynamoThread> {
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { dynalite: createRequire(import.meta.url).resolve('dynalite'), options },
  });
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    worker.once('error', failed);
    worker.once('exit', (code) => reject(new Error(`The DynamoDB thread exited with code ${code}`)));
    worker.once('message', (message: { port?: number; error?: string }) => {
      worker.off('error', failed);
      if (message.port === undefined) {
        void worker.terminate();
        reject(new Error(`The local DynamoDB did not start: ${message.error ?? 'no port'}`));
        return;
      }
      resolve({
        port: message.port,
        close: async () => {
          const closed = new Promise<void>((done) => {
            worker.on('message', (reply: { closed?: boolean }) => {
              if (reply.closed) done();
            });
            worker.once('exit', () => done());
          });
          worker.postMessage('close');
          await closed;
          await worker.terminate();
        },
      });
    });
  });
}

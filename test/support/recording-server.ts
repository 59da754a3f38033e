import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../../infra/local/http-utils.ts';

/** A request as a recording server received it. */
export interface RecordedRequest {
  method: string;
  /** The request target: path and query. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordedAnswer {
  status?: number;
  headers?: Record<string, string>;
  body: string;
}

export interface RecordingServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request so far, in the order received (clear it with `received.length = 0`). */
  received: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A plain HTTP server on a free loopback port standing in for a remote service (the network
 * edge): it records each request whole, then answers it with `answer(request)`.
 */
export async function startRecordingServer(
  answer: (request: RecordedRequest) => RecordedAnswer,
): Promise<RecordingServer> {
  const received: RecordedRequest[] = [];
  const server = createServer(async (request, response) => {
    const recorded: RecordedRequest = {
      method: request.method ?? '',
      path: request.url ?? '',
      headers: request.headers,
      body: (await readBody(request, 16 * 1024 * 1024)).toString('utf8'),
    };
    received.push(recorded);
    const { status = 200, headers = {}, body } = answer(recorded);
    response.writeHead(status, headers).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

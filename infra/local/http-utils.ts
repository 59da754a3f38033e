import {
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';

/** Small helpers shared by the local host's routes. */

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > limit) throw new BodyTooLargeError(`Request body is larger than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(text);
}

/**
 * Gives the host's own protocol-level answers the API's JSON error body: without these listeners
 * Node answers a malformed request, oversized headers or an unsupported `Expect` with an empty
 * body, and drops a CONNECT request without any answer.
 */
export function answerProtocolErrors(server: Server): void {
  server.on('clientError', answerClientError);
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    sendJson(response, 417, { detail: 'Expect is supported only as 100-continue' }, { connection: 'close' });
  });
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    writeRawJson(socket, 405, 'CONNECT is not supported');
  });
}

/**
 * The answer to a request Node's HTTP parser refused before any route saw it (malformed request
 * line or header, headers over `maxHeaderSize`, a header timeout): the status Node itself would
 * send, with a JSON body. For `server.on('clientError', …)`.
 */
export function answerClientError(error: Error & { code?: string; reason?: string }, socket: Duplex): void {
  // The rest of a refused request (a body after oversized headers) fails to parse again: the
  // answer is on its way and the client closes once it has read it. Destroying the socket here
  // could reset the connection before the client has read it.
  if (answered.has(socket)) return;
  // Nothing can be answered on a reset socket, or once a response on it has begun.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  answered.add(socket);
  const [status, detail] = clientErrorAnswer(error);
  writeRawJson(socket, status, detail);
}

const answered = new WeakSet<Duplex>();

function clientErrorAnswer(error: { code?: string; reason?: string }): [number, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, `Request headers must not exceed ${maxHeaderSize} bytes in total`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'Request chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'The request was not received in time'];
    default:
      return [400, error.reason ? `Malformed HTTP request: ${error.reason}` : 'Malformed HTTP request'];
  }
}

/**
 * There is no response object for these (the parser gave up, or the socket was handed over), so
 * the answer is written to the socket as raw HTTP/1.1 and the connection closed.
 */
function writeRawJson(socket: Duplex, status: number, detail: string): void {
  const body = JSON.stringify({ detail });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

/** A Web Request for code written against the fetch API (simulators, multipart parsing). */
export function toWebRequest(
  request: IncomingMessage,
  body: Buffer,
  baseUrl: string,
  signal: AbortSignal,
): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers.set(key, Array.isArray(value) ? value.join(',') : value);
  }
  const method = request.method ?? 'GET';
  return new Request(new URL(request.url ?? '/', baseUrl), {
    method,
    headers,
    signal,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
  });
}

export async function sendWebResponse(response: ServerResponse, webResponse: Response): Promise<void> {
  const headers: Record<string, string> = {};
  webResponse.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const body = Buffer.from(await webResponse.arrayBuffer());
  response.writeHead(webResponse.status, headers);
  response.end(body);
}

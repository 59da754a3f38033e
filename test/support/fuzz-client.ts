import { connect } from 'node:net';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { invokeApi } from '../../infra/local/api-gateway.ts';
import type { FuzzRequest } from './fuzz-bodies.ts';

/**
 * Sends fuzz requests to a local stack, over a raw HTTP/1.1 socket (every byte as generated:
 * no client library normalises the path, refuses a header or fixes a body) or straight to the
 * gateway's handlers (the same event building and handlers, without sockets, for volume).
 */

export interface FuzzAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function requestBytes(request: FuzzRequest, host: string): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, `Host: ${host}`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  let body: Uint8Array = request.body ?? new Uint8Array(0);
  const chunked = request.headers.some(
    ([name, value]) => /^transfer-encoding$/i.test(name) && /chunked/i.test(value),
  );
  if (chunked) {
    // Declared chunked, sent chunked (one chunk and the last), so the server is not left waiting.
    const size = body.length > 0 ? `${body.length.toString(16)}\r\n` : '';
    body = Buffer.concat([
      Buffer.from(size),
      body,
      Buffer.from(body.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
    ]);
  } else if (body.length > 0 || request.method === 'POST') {
    lines.push(`Content-Length: ${body.length}`);
  }
  lines.push('Connection: close', '', '');
  // Header values go as UTF-8 bytes: the server reads them as latin1, as it would a real client's.
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), body]);
}

/** Parses the one response of a `Connection: close` exchange (after any 1xx interim answers). */
export function parseResponse(raw: Buffer): FuzzAnswer | undefined {
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1]);
    if (!Number.isInteger(status)) return undefined;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const payload = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = payload;
      continue;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      let offset = 0;
      for (;;) {
        const lineEnd = payload.indexOf('\r\n', offset);
        if (lineEnd < 0) return undefined;
        const size = Number.parseInt(payload.subarray(offset, lineEnd).toString('latin1'), 16);
        if (!Number.isInteger(size)) return undefined;
        if (size === 0) break;
        chunks.push(payload.subarray(lineEnd + 2, lineEnd + 2 + size));
        offset = lineEnd + 2 + size + 2;
      }
      return { status, headers, body: Buffer.concat(chunks) };
    }
    const length = headers['content-length'];
    const body = length === undefined ? payload : payload.subarray(0, Number(length));
    return { status, headers, body };
  }
}

/** One request on its own connection; resolves with the server's answer, rejects without one. */
export function sendRaw(port: number, request: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      const answer = parseResponse(Buffer.concat(chunks));
      if (answer) resolve(answer);
      else reject(error ?? new Error(`no HTTP answer (${Buffer.concat(chunks).length} bytes received)`));
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may answer and close before reading all of a request it refused (431, 413):
    // a write error then is expected, and the answer already received is what counts.
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish());
    // A guard against a server that never answers, not a deadline: an idle minute ends the wait.
    socket.setTimeout(60_000, () => socket.destroy(new Error('no answer after 60 s of silence')));
    // Written without ending our side: Node closes a connection whose client half-closed before
    // the answer was ready. Every request asks for `Connection: close`, so the server ends it.
    socket.write(request.raw ?? requestBytes(request, `localhost:${port}`));
  });
}

/** The same request given to the gateway's handlers directly (as `serveApi` would, minus I/O). */
export async function sendDirect(baseUrl: string, request: FuzzRequest): Promise<FuzzAnswer> {
  const headers: Record<string, string> = { host: new URL(baseUrl).host };
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const result: APIGatewayProxyStructuredResultV2 = await invokeApi({
    method: request.method,
    url: new URL(request.target, baseUrl),
    headers,
    body: Buffer.from(request.body ?? new Uint8Array(0)),
  });
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, 'utf8');
  const outHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) outHeaders[key] = String(value);
  return { status: result.statusCode ?? 200, headers: outHeaders, body };
}

/**
 * What every answer must be: below 500, and when not a success, a JSON object whose `detail` is
 * a string (a HEAD answer has no body to check). Returns the problem, or undefined.
 */
export function answerProblem(request: FuzzRequest, answer: FuzzAnswer): string | undefined {
  if (answer.status >= 500) return `status ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`;
  if (answer.status < 300 || request.method === 'HEAD') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return `status ${answer.status} with a body that is not JSON: ${JSON.stringify(answer.body.toString('latin1').slice(0, 200))}`;
  }
  const detail = (parsed as { detail?: unknown } | null)?.detail;
  if (typeof detail !== 'string') return `status ${answer.status} without a string detail`;
  return undefined;
}

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { invalidErrorStatus, invalidTimes, serveFaultRoute } from './fault-routes.ts';
import { BodyTooLargeError, headerValue, readBody, sendJson, toWebRequest } from './http-utils.ts';

/**
 * Supabase Storage's upload and download routes (docs/api.md, Local stack), kept under DATA_DIR/storage, so
 * the guide's "upload first, then pass the URL" flow and supabase-js work unchanged locally:
 *   POST|PUT /storage/v1/object/<bucket>/<path>          upload (raw body or multipart), any bearer token
 *   GET|HEAD /storage/v1/object/public/<bucket>/<path>   public download
 *   POST     /storage/v1/object/sign/<bucket>/<path>     create a signed URL ({expiresIn})
 *   GET      /storage/v1/object/sign/<bucket>/<path>?token=…  signed download
 *
 * Object paths are taken from the raw request URL: one holding a `.` or `..` segment (or its
 * percent-encoded form, which URL parsers resolve just the same) is refused with 400, never
 * resolved to another object.
 *
 * Faults, for tests of the BFF's retries (the sandbox providers' faults, for Storage):
 *   POST   /__storage/faults   {"operation": "upload"|"download", "status": 503, "times": 2}
 *                              or {"operation": "download", "stall": true}; optional "path":
 *                              only object paths containing that text. Each upload or download
 *                              takes the first matching fault: `status` answers that status with
 *                              Storage's error body (429 and 503 with Retry-After: 1); `stall`
 *                              sends the headers and half the body, then nothing until the client
 *                              goes away. `times` (default 1) is how many requests it applies to.
 *   DELETE /__storage/faults   forgets the faults and the request log
 *   GET    /__storage/requests every upload and download since, oldest first:
 *                              {method, operation, bucket, path, status} (status 0: stalled)
 */

const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
const PREFIX = '/storage/v1/object/';
const CONTROL_PREFIX = '/__storage/';
/** A stalled download ends on its own after this long, so nothing is held forever. */
const MAX_STALL_MS = 15 * 60 * 1000;
const MAX_LOGGED_REQUESTS = 500;

export type StorageOperation = 'upload' | 'download';

/** A scripted Storage failure (see the route list above). */
export interface StorageFault {
  operation: StorageOperation;
  status?: number;
  stall?: boolean;
  path?: string;
  times: number;
}

/** One upload or download as the local Storage answered it. */
export interface StorageRequest {
  method: string;
  operation: StorageOperation;
  bucket: string;
  path: string;
  /** The HTTP status answered; 0 for a stalled download. */
  status: number;
}

/** Checks a `POST /__storage/faults` body; a string says what is wrong. */
export function parseStorageFault(body: unknown): StorageFault | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'Body must be a JSON object';
  const input = body as Record<string, unknown>;
  const known = new Set(['operation', 'status', 'stall', 'path', 'times']);
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    return `Unknown field ${unknown[0]}; allowed: operation, status, stall, path, times`;
  }
  if (input.operation !== 'upload' && input.operation !== 'download') {
    return 'operation must be "upload" or "download"';
  }
  const fault: StorageFault = { operation: input.operation, times: 1 };
  const problem = invalidTimes(input.times) ?? invalidErrorStatus(input.status);
  if (problem) return problem;
  if (input.times !== undefined) fault.times = input.times as number;
  if (input.status !== undefined) fault.status = input.status as number;
  if (input.stall !== undefined) {
    if (typeof input.stall !== 'boolean') return 'stall must be true or false';
    if (input.stall && fault.operation !== 'download') return 'stall applies to downloads only';
    fault.stall = input.stall;
  }
  if (input.path !== undefined) {
    if (typeof input.path !== 'string' || input.path === '') return 'path must be a non-empty string';
    fault.path = input.path;
  }
  if (fault.status === undefined && !fault.stall) return 'Give status or stall';
  if (fault.status !== undefined && fault.stall) return 'Give status or stall, not both';
  return fault;
}

/** Whether a raw (not yet normalised) URL path holds a `.` or `..` segment, percent-encoded or not. */
export function hasDotSegment(rawPath: string): boolean {
  return rawPath.split('/').some((segment) => {
    const decoded = safeDecode(segment);
    // A malformed escape is refused elsewhere; an encoded `/` splits a segment as a parser would.
    return decoded?.split(/[/\\]/).some((part) => part === '.' || part === '..') ?? false;
  });
}

interface ObjectMeta {
  contentType: string;
  size: number;
  updatedAt: string;
}

function storageError(response: ServerResponse, status: number, error: string, message: string): void {
  sendJson(response, status, { statusCode: String(status), error, message });
}

export class LocalStorage {
  private signingKey: Buffer | undefined;
  private faults: StorageFault[] = [];
  readonly requests: StorageRequest[] = [];

  constructor(private readonly root: string) {}

  private objectFile(bucket: string, path: string): string | undefined {
    const base = resolve(this.root, 'objects', bucket);
    const file = resolve(base, path);
    return file.startsWith(base + sep) ? file : undefined;
  }

  private metaFile(bucket: string, path: string): string | undefined {
    const base = resolve(this.root, 'meta', bucket);
    const file = resolve(base, `${path}.json`);
    return file.startsWith(base + sep) ? file : undefined;
  }

  private async key(): Promise<Buffer> {
    if (this.signingKey) return this.signingKey;
    const file = join(this.root, 'signing-key');
    if (existsSync(file)) this.signingKey = await readFile(file);
    else {
      this.signingKey = randomBytes(32);
      await mkdir(this.root, { recursive: true });
      await writeFile(file, this.signingKey, { mode: 0o600 });
    }
    return this.signingKey;
  }

  private async sign(bucket: string, path: string, expires: number): Promise<string> {
    return createHmac('sha256', await this.key())
      .update(`${bucket}/${path}:${expires}`)
      .digest('base64url');
  }

  async put(bucket: string, path: string, bytes: Buffer, contentType: string): Promise<void> {
    const file = this.objectFile(bucket, path);
    const meta = this.metaFile(bucket, path);
    if (!file || !meta) throw new Error('invalid object path');
    await mkdir(dirname(file), { recursive: true });
    await mkdir(dirname(meta), { recursive: true });
    // Write then rename, so a reader never sees half an object.
    const temporary = `${file}.${randomUUID()}.tmp`;
    await writeFile(temporary, bytes);
    await rename(temporary, file);
    const facts: ObjectMeta = { contentType, size: bytes.length, updatedAt: new Date().toISOString() };
    await writeFile(meta, JSON.stringify(facts));
  }

  async get(bucket: string, path: string): Promise<{ bytes: Buffer; meta: ObjectMeta } | undefined> {
    const file = this.objectFile(bucket, path);
    const metaFile = this.metaFile(bucket, path);
    if (!file || !metaFile || !existsSync(file)) return undefined;
    const bytes = await readFile(file);
    let meta: ObjectMeta;
    try {
      meta = JSON.parse(await readFile(metaFile, 'utf8')) as ObjectMeta;
    } catch {
      meta = {
        contentType: 'application/octet-stream',
        size: bytes.length,
        updatedAt: (await stat(file)).mtime.toISOString(),
      };
    }
    return { bytes, meta };
  }

  addFault(fault: StorageFault): void {
    this.faults.push({ ...fault, times: Math.max(1, fault.times) });
  }

  clearFaults(): void {
    this.faults = [];
    this.requests.length = 0;
  }

  /** Removes one use of the first fault for this operation and object, if any. */
  private takeFault(operation: StorageOperation, path: string): StorageFault | undefined {
    const index = this.faults.findIndex(
      (fault) => fault.operation === operation && (fault.path === undefined || path.includes(fault.path)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private log(entry: StorageRequest): void {
    this.requests.push(entry);
    if (this.requests.length > MAX_LOGGED_REQUESTS) this.requests.shift();
  }

  /**
   * Handles a request under /storage/v1/object/ (and the /__storage/ fault routes); false when
   * the path is not a storage route.
   */
  async serve(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    const rawPath = (request.url ?? '/').split('?')[0] ?? '/';
    if (url.pathname.startsWith(CONTROL_PREFIX)) return this.serveControl(request, response, url);
    if (!url.pathname.startsWith(PREFIX) && !rawPath.startsWith('/storage/')) return false;
    // The URL was normalised already (`a/../b` became `b`): the raw one decides.
    if (hasDotSegment(rawPath)) {
      storageError(response, 400, 'invalid_key', 'Object paths may not contain "." or ".." segments');
      return true;
    }
    if (!url.pathname.startsWith(PREFIX)) return false;
    const method = (request.method ?? 'GET').toUpperCase();
    const rest = url.pathname.slice(PREFIX.length).split('/').map(safeDecode);
    if (rest.some((segment) => segment === undefined || segment === '..' || segment === '.')) {
      storageError(response, 400, 'invalid_key', 'Invalid object path');
      return true;
    }
    const segments = rest as string[];
    const [first, ...others] = segments;
    if (first === 'public' || first === 'sign') {
      const [bucket, ...pathParts] = others;
      const path = pathParts.join('/');
      if (!bucket || !path) {
        storageError(response, 400, 'invalid_key', 'Bucket and object path are required');
        return true;
      }
      if (first === 'sign' && method === 'POST') return this.createSignedUrl(request, response, bucket, path);
      if (method !== 'GET' && method !== 'HEAD') {
        storageError(response, 405, 'method_not_allowed', 'Use GET to download');
        return true;
      }
      if (first === 'sign') {
        const token = url.searchParams.get('token') ?? '';
        if (!(await this.verify(bucket, path, token))) {
          storageError(response, 400, 'InvalidSignature', 'The signature is invalid or has expired');
          return true;
        }
      }
      return this.download(request, response, bucket, path, method === 'HEAD');
    }
    if (method !== 'POST' && method !== 'PUT') {
      storageError(response, 405, 'method_not_allowed', 'Use POST or PUT to upload');
      return true;
    }
    const bucket = first;
    const path = others.join('/');
    if (!bucket || !path) {
      storageError(response, 400, 'invalid_key', 'Bucket and object path are required');
      return true;
    }
    return this.upload(request, response, url, bucket, path, method);
  }

  private async upload(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    bucket: string,
    path: string,
    method: string,
  ): Promise<boolean> {
    const authorization = headerValue(request, 'authorization') ?? '';
    if (!/^Bearer\s+\S+/i.test(authorization) && !headerValue(request, 'apikey')) {
      storageError(
        response,
        403,
        'Unauthorized',
        'An Authorization: Bearer <token> header is required to upload',
      );
      return true;
    }
    let body: Buffer;
    try {
      body = await readBody(request, MAX_UPLOAD_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        storageError(response, 413, 'Payload too large', 'The object exceeded the maximum allowed size');
        return true;
      }
      throw error;
    }
    const fault = this.takeFault('upload', path);
    if (fault?.status !== undefined) {
      this.log({ method, operation: 'upload', bucket, path, status: fault.status });
      faultError(response, fault.status);
      return true;
    }
    let bytes = body;
    let contentType = headerValue(request, 'content-type') ?? 'application/octet-stream';
    if (contentType.startsWith('multipart/form-data')) {
      // supabase-js sends Blob/File uploads as a form with one file part.
      const form = await toWebRequest(request, body, url.origin, new AbortController().signal).formData();
      const file = [...form.values()].find((value): value is File => typeof value !== 'string');
      if (!file) {
        storageError(response, 400, 'invalid_request', 'The multipart body has no file part');
        return true;
      }
      bytes = Buffer.from(await file.arrayBuffer());
      contentType = file.type || 'application/octet-stream';
    }
    const upsert = method === 'PUT' || (headerValue(request, 'x-upsert') ?? 'false').toLowerCase() === 'true';
    if (!upsert && (await this.get(bucket, path))) {
      storageError(response, 409, 'Duplicate', 'The resource already exists');
      return true;
    }
    await this.put(bucket, path, bytes, contentType.split(';')[0]?.trim() || 'application/octet-stream');
    this.log({ method, operation: 'upload', bucket, path, status: 200 });
    sendJson(response, 200, { Key: `${bucket}/${path}`, Id: randomUUID() });
    return true;
  }

  private async download(
    request: IncomingMessage,
    response: ServerResponse,
    bucket: string,
    path: string,
    headOnly: boolean,
  ) {
    const method = headOnly ? 'HEAD' : 'GET';
    const fault = headOnly ? undefined : this.takeFault('download', path);
    if (fault?.status !== undefined) {
      this.log({ method, operation: 'download', bucket, path, status: fault.status });
      faultError(response, fault.status);
      return true;
    }
    const object = await this.get(bucket, path);
    if (!object) {
      this.log({ method, operation: 'download', bucket, path, status: 404 });
      storageError(response, 404, 'not_found', 'Object not found');
      return true;
    }
    response.writeHead(200, {
      'content-type': object.meta.contentType,
      'content-length': String(object.bytes.length),
      'cache-control': 'max-age=3600',
      'last-modified': new Date(object.meta.updatedAt).toUTCString(),
    });
    if (fault?.stall) {
      this.log({ method, operation: 'download', bucket, path, status: 0 });
      response.write(object.bytes.subarray(0, Math.floor(object.bytes.length / 2)));
      await untilClosed(request, response);
      response.destroy();
      return true;
    }
    this.log({ method, operation: 'download', bucket, path, status: 200 });
    response.end(headOnly ? undefined : object.bytes);
    return true;
  }

  /** `/__storage/faults` and `/__storage/requests`. */
  private async serveControl(request: IncomingMessage, response: ServerResponse, url: URL) {
    const method = (request.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/__storage/requests') {
      if (method !== 'GET') {
        sendJson(response, 405, { detail: 'Use GET to list the requests' }, { allow: 'GET' });
        return true;
      }
      sendJson(response, 200, this.requests);
      return true;
    }
    if (path !== '/__storage/faults') {
      sendJson(response, 404, { detail: 'Use /__storage/faults or /__storage/requests' });
      return true;
    }
    await serveFaultRoute(request, response, {
      parse: parseStorageFault,
      add: (fault) => this.addFault(fault),
      clear: () => this.clearFaults(),
    });
    return true;
  }

  private async createSignedUrl(
    request: IncomingMessage,
    response: ServerResponse,
    bucket: string,
    path: string,
  ) {
    const text = (await readBody(request, 64 * 1024)).toString('utf8');
    let expiresIn = 3600;
    try {
      const parsed = JSON.parse(text || '{}') as { expiresIn?: unknown };
      if (typeof parsed.expiresIn === 'number' && parsed.expiresIn > 0)
        expiresIn = Math.floor(parsed.expiresIn);
    } catch {
      storageError(response, 400, 'invalid_request', 'Body must be JSON {"expiresIn": seconds}');
      return true;
    }
    if (!(await this.get(bucket, path))) {
      storageError(response, 404, 'not_found', 'Object not found');
      return true;
    }
    const expires = Math.floor(Date.now() / 1000) + expiresIn;
    const token = `${expires}.${await this.sign(bucket, path, expires)}`;
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    sendJson(response, 200, { signedURL: `/object/sign/${bucket}/${encodedPath}?token=${token}` });
    return true;
  }

  private async verify(bucket: string, path: string, token: string): Promise<boolean> {
    const [expiresText, signature] = token.split('.');
    const expires = Number(expiresText);
    if (!signature || !Number.isInteger(expires) || expires < Date.now() / 1000) return false;
    const expected = Buffer.from(await this.sign(bucket, path, expires));
    const presented = Buffer.from(signature);
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  }
}

/** A fault's status with Storage's error body; 429 and 503 say when to come back. */
function faultError(response: ServerResponse, status: number): void {
  const names: Record<number, string> = {
    429: 'too_many_requests',
    500: 'internal',
    502: 'bad_gateway',
    503: 'service_unavailable',
    504: 'gateway_timeout',
  };
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': '1' } : {};
  sendJson(
    response,
    status,
    {
      statusCode: String(status),
      error: names[status] ?? `http_${status}`,
      message: `Sandbox fault: HTTP ${status}`,
    },
    headers,
  );
}

/** Resolves when the client has gone away (or after MAX_STALL_MS). */
function untilClosed(request: IncomingMessage, response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    // The client may be gone already: then no close event is coming.
    if (request.destroyed || response.destroyed || response.writableEnded) {
      resolve();
      return;
    }
    const timer = setTimeout(done, MAX_STALL_MS);
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      resolve();
    }
    response.once('close', done);
  });
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

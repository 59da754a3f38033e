import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { BodyTooLargeError, headerValue, readBody, sendJson, toWebRequest } from './http-utils.ts';

/**
 * Supabase Storage's upload and download routes (contract §7), kept under DATA_DIR/storage, so
 * the guide's "upload first, then pass the URL" flow and supabase-js work unchanged locally:
 *   POST|PUT /storage/v1/object/<bucket>/<path>          upload (raw body or multipart), any bearer token
 *   GET|HEAD /storage/v1/object/public/<bucket>/<path>   public download
 *   POST     /storage/v1/object/sign/<bucket>/<path>     create a signed URL ({expiresIn})
 *   GET      /storage/v1/object/sign/<bucket>/<path>?token=…  signed download
 */

const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
const PREFIX = '/storage/v1/object/';

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

  /** Handles a request under /storage/v1/object/; false when the path is not a storage route. */
  async serve(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
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
      return this.download(response, bucket, path, method === 'HEAD');
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
    sendJson(response, 200, { Key: `${bucket}/${path}`, Id: randomUUID() });
    return true;
  }

  private async download(response: ServerResponse, bucket: string, path: string, headOnly: boolean) {
    const object = await this.get(bucket, path);
    if (!object) {
      storageError(response, 404, 'not_found', 'Object not found');
      return true;
    }
    response.writeHead(200, {
      'content-type': object.meta.contentType,
      'content-length': String(object.bytes.length),
      'cache-control': 'max-age=3600',
      'last-modified': new Date(object.meta.updatedAt).toUTCString(),
    });
    response.end(headOnly ? undefined : object.bytes);
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

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

import {
  type DecodedInput,
  decodeInput,
  FetchInputError,
  fetchInput,
  readHeader,
  sniffFormat,
} from '../image-input.ts';
import { invalid, TripoFailure } from './errors.ts';
import { isObject } from './fields.ts';
import { type Task, tasks, tripoSandboxSettings, UPLOAD_TTL_MS, type Upload, uploads } from './state.ts';

/**
 * Input references (images, models, earlier tasks). Sources, checked 2026-12-02:
 * - a bare string that the server classifies — `file_<uuid>` upload token, http(s) URL, or task id
 *   (a bare UUID) — is the form the v3 API documents (Tripo's JS SDK
 *   github.com/VAST-AI-Research/tripo-js-sdk src/utils.js `toFileDescriptor`: "a plain string is
 *   passed through untouched, so the server can infer…"; Go SDK github.com/VAST-AI-Research/tripo-go-sdk
 *   types.go `Ref`);
 * - an object `{file_token} | {url} | {object: {bucket, key}}` with an optional `type` (JS SDK
 *   types/index.d.ts `FileDescriptor`; tryAGI/Tripo openapi.yaml `InputSourceObject`);
 * - base64 (`{data}` objects, `data:` URLs) is not accepted → 400 (Tripo's migration skill
 *   "tripo-v2-to-v3-migration" §3.3);
 * - image uploads: PNG, JPEG, WebP up to 20 MB; models: GLB, FBX, OBJ, STL up to 150 MB, `.gltf`
 *   not uploadable (openapi.yaml `UploadFileRequest`; Tripo skill github.com/VAST-AI-Research/Tripo3D-Plugin-dsh
 *   plugin/skills/tripo-3d/SKILL.md). Sources disagree on 150 vs 200 MB; the simulator keeps 150.
 */

export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
export const MAX_MODEL_BYTES = 150 * 1024 * 1024;

/**
 * Image sides up to 6000 px: the upper bound of Tripo's v2 upload documentation (sides 20–6000 px,
 * developers.tripo3d.ai, an older copy), checked 2026-12-02. v3 sources restate neither bound and
 * only recommend at least 256 x 256, so the sandbox enforces the upper one, which keeps it from
 * decoding an image (uploaded or referenced by URL) that claims more, and leaves small images to be judged at generation.
 */
export const MAX_IMAGE_SIDE = 6000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Ref =
  | { kind: 'token'; token: string }
  | { kind: 'url'; url: string }
  | { kind: 'task'; id: string }
  | { kind: 'object'; bucket: string; key: string };

function stringRef(value: string, where: string): Ref {
  if (value.startsWith('data:')) {
    throw invalid(`${where}: base64 data URLs are not accepted; upload the file and send its file_token`);
  }
  if (value.startsWith('file_')) return { kind: 'token', token: value };
  if (/^https?:\/\//i.test(value)) {
    if (!URL.canParse(value)) throw invalid(`${where}: not a valid URL`);
    return { kind: 'url', url: value };
  }
  if (UUID.test(value)) return { kind: 'task', id: value };
  throw invalid(`${where}: not a file_token (file_…), an http(s) URL or a task id`);
}

/**
 * One reference: a bare string or an object. `allowEmpty` lets `""` and `{}` stand for a missing
 * multiview slot (returns undefined).
 */
export function parseRef(value: unknown, where: string, allowEmpty = false): Ref | undefined {
  if (typeof value === 'string') {
    if (value === '') {
      if (allowEmpty) return undefined;
      throw invalid(`${where} must not be empty`);
    }
    return stringRef(value, where);
  }
  if (!isObject(value)) throw invalid(`${where} must be a string or an object`);
  if (value.data !== undefined) {
    throw invalid(`${where}: base64 data is not accepted; upload the file and send its file_token`);
  }
  const unknown = Object.keys(value).filter(
    (name) => !['file_token', 'url', 'object', 'type'].includes(name),
  );
  if (unknown.length > 0) throw invalid(`${where}: unknown field(s) ${unknown.join(', ')}`);
  if (value.type !== undefined && typeof value.type !== 'string')
    throw invalid(`${where}.type must be a string`);
  const sources = ['file_token', 'url', 'object'].filter((name) => value[name] !== undefined);
  if (sources.length === 0) {
    if (allowEmpty) return undefined;
    throw invalid(`${where} names no file_token, url or object`);
  }
  if (sources.length > 1) throw invalid(`${where}: file_token, url and object are mutually exclusive`);
  if (value.file_token !== undefined) {
    if (typeof value.file_token !== 'string' || value.file_token === '') {
      throw invalid(`${where}.file_token must be a non-empty string`);
    }
    return { kind: 'token', token: value.file_token };
  }
  if (value.url !== undefined) {
    if (typeof value.url !== 'string' || !/^https?:\/\//i.test(value.url) || !URL.canParse(value.url)) {
      throw invalid(`${where}.url must be an http(s) URL`);
    }
    return { kind: 'url', url: value.url };
  }
  const object = value.object;
  if (!isObject(object) || typeof object.bucket !== 'string' || typeof object.key !== 'string') {
    throw invalid(`${where}.object must be {bucket, key}`);
  }
  return { kind: 'object', bucket: object.bucket, key: object.key };
}

/** This key's upload for a token; unknown, foreign and expired tokens are 400/1004. */
function uploadFor(token: string, key: string, where: string): Upload {
  const upload = uploads.get(token);
  if (!upload || upload.key !== key || tripoSandboxSettings.now() - upload.createdAt > UPLOAD_TTL_MS) {
    throw invalid(`${where}: invalid or expired file_token ${token}`);
  }
  return upload;
}

/** This key's task for an id, else 2001 (a task is visible only to the key that created it). */
export function ownTask(id: string, key: string, where: string): Task {
  const task = tasks.get(id);
  if (!task || task.key !== key) {
    throw new TripoFailure(2001, `${where}: task ${id} does not exist or does not belong to this API key`);
  }
  return task;
}

async function fetchBytes(url: string, where: string, signal: AbortSignal): Promise<Buffer> {
  try {
    // The size is checked afterwards so that an oversized file gets its own error.
    return await fetchInput(url, Number.MAX_SAFE_INTEGER, signal);
  } catch (error) {
    if (error instanceof FetchInputError) throw new TripoFailure(2003, `${where}: ${error.message}`);
    throw error;
  }
}

function noObjectStorage(ref: { bucket: string; key: string }, where: string): TripoFailure {
  // Object references come from /files/upload-credentials, which the sandbox does not simulate.
  return invalid(`${where}: object ${ref.bucket}/${ref.key} does not exist`);
}

/** The 3D formats `POST /files` takes, by magic bytes. */
export function sniffModel(bytes: Buffer): 'glb' | 'fbx' | 'obj' | 'stl' | undefined {
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'glTF') return 'glb';
  if (bytes.toString('latin1', 0, 18) === 'Kaydara FBX Binary') return 'fbx';
  const head = bytes.toString('utf8', 0, Math.min(bytes.length, 4096));
  if (/^\s*;\s*FBX/.test(head) || head.includes('FBXHeaderExtension')) return 'fbx';
  if (/^\s*solid\b/.test(head) && /\bfacet\b/.test(head)) return 'stl';
  if (bytes.length >= 84 && 84 + bytes.readUInt32LE(80) * 50 === bytes.length) return 'stl';
  if (/^v\s+-?[\d.]/m.test(head) && !head.includes('\u0000')) return 'obj';
  return undefined;
}

async function decodeImage(bytes: Buffer, where: string): Promise<DecodedInput> {
  if (bytes.length === 0) throw new TripoFailure(2003, `${where}: the file is empty`);
  if (bytes.length > MAX_IMAGE_BYTES) throw invalid(`${where}: images must be at most 20 MB`);
  const format = sniffFormat(bytes);
  if (format !== 'png' && format !== 'jpeg' && format !== 'webp') {
    throw new TripoFailure(2004, `${where}: expected a PNG, JPEG or WebP image (got ${format ?? 'unknown'})`);
  }
  // The side rule on the header first, as for uploads (files.ts): nothing over it is decoded.
  const header = readHeader(bytes);
  if (!header) throw new TripoFailure(2004, `${where}: the image could not be decoded`);
  if (header.width > MAX_IMAGE_SIDE || header.height > MAX_IMAGE_SIDE) {
    throw invalid(
      `${where}: image sides must be at most ${MAX_IMAGE_SIDE} px (got ${header.width}x${header.height})`,
    );
  }
  const decoded = await decodeInput(bytes, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE);
  if (!decoded) throw new TripoFailure(2004, `${where}: the image could not be decoded`);
  return decoded;
}

/** An image reference → its decoded pixels. */
export async function resolveImage(
  ref: Ref,
  where: string,
  key: string,
  signal: AbortSignal,
): Promise<DecodedInput> {
  switch (ref.kind) {
    case 'token': {
      const upload = uploadFor(ref.token, key, where);
      if (upload.kind !== 'image') {
        throw new TripoFailure(2004, `${where}: ${ref.token} is a ${upload.format} model, not an image`);
      }
      return decodeImage(upload.bytes, where);
    }
    case 'url':
      return decodeImage(await fetchBytes(ref.url, where, signal), where);
    case 'task': {
      const task = ownTask(ref.id, key, where);
      // Image inputs may name a text-to-image / image-to-image task; the sandbox makes none.
      throw new TripoFailure(
        2006,
        `${where}: task ${task.id} is a ${task.type} task; an image task (text_to_image, image_to_image) is needed`,
      );
    }
    case 'object':
      throw noObjectStorage(ref, where);
  }
}

export type ModelSource =
  | { kind: 'task'; task: Task }
  | { kind: 'file'; bytes: Buffer; format: 'glb' | 'fbx' | 'obj' | 'stl' };

/** A model reference (re-texture input) → an earlier 3D task of this key or a model file. */
export async function resolveModel(
  ref: Ref,
  where: string,
  key: string,
  signal: AbortSignal,
): Promise<ModelSource> {
  switch (ref.kind) {
    case 'task':
      return { kind: 'task', task: ownTask(ref.id, key, where) };
    case 'token': {
      const upload = uploadFor(ref.token, key, where);
      if (upload.kind !== 'model') {
        throw new TripoFailure(2004, `${where}: ${ref.token} is a ${upload.format} image, not a 3D model`);
      }
      return { kind: 'file', bytes: upload.bytes, format: modelFormat(upload.format) };
    }
    case 'url': {
      const bytes = await fetchBytes(ref.url, where, signal);
      if (bytes.length === 0) throw new TripoFailure(2003, `${where}: the file is empty`);
      if (bytes.length > MAX_MODEL_BYTES) throw invalid(`${where}: models must be at most 150 MB`);
      const format = sniffModel(bytes);
      if (!format) throw new TripoFailure(2004, `${where}: expected a GLB, FBX, OBJ or STL model`);
      return { kind: 'file', bytes, format };
    }
    case 'object':
      throw noObjectStorage(ref, where);
  }
}

function modelFormat(format: string): 'glb' | 'fbx' | 'obj' | 'stl' {
  return format === 'fbx' || format === 'obj' || format === 'stl' ? format : 'glb';
}

export function averageColour(picture: DecodedInput): [number, number, number] {
  const { data, width, height } = picture.image.bitmap;
  const total = width * height;
  const step = Math.max(1, Math.floor(total / 4096));
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  for (let i = 0; i < total; i += step) {
    r += data[i * 4] ?? 0;
    g += data[i * 4 + 1] ?? 0;
    b += data[i * 4 + 2] ?? 0;
    n += 1;
  }
  return [r / n / 255, g / n / 255, b / n / 255];
}

/** A colour from a hex digest. */
export function tintOf(hex: string): [number, number, number] {
  const channel = (i: number): number => 0.2 + (Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16) / 255) * 0.8;
  return [channel(0), channel(1), channel(2)];
}

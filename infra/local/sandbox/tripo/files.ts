import { decodeInput, newId, readHeader, sniffFormat } from '../image-input.ts';
import { faultedDownload } from '../result-faults.ts';
import type { SandboxContext } from '../sandbox.ts';
import { invalid, TripoFailure } from './errors.ts';
import { documentedFields, type Fields } from './fields.ts';
import { MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_MODEL_BYTES, sniffModel } from './references.ts';
import { FILES_PREFIX, issuedFiles, tasks, tripoSandboxSettings, uploads } from './state.ts';

/**
 * `POST /v3/files` and the result downloads. Sources, checked 2026-12-02:
 * - multipart with one part named `file` → `{file_token: "file_<uuid>"}` (Tripo's JS SDK
 *   github.com/VAST-AI-Research/tripo-js-sdk src/client.js `uploadFile`; tryAGI/Tripo openapi.yaml
 *   `UploadFileRequest` / `FileResponse`, kept from developers.tripo3d.ai/en/docs);
 * - images PNG / JPEG / WebP ≤ 20 MB; models GLB / FBX / OBJ / STL ≤ 150 MB (openapi.yaml; Tripo's
 *   skill github.com/VAST-AI-Research/Tripo3D-Plugin-dsh plugin/skills/tripo-3d/SKILL.md, which
 *   also says `.gltf` cannot be uploaded). Formats are sniffed from the bytes, not the filename.
 * - downloads need no key (Tripo's Python SDK 1.0.0 release notes,
 *   github.com/Tripo-Developer/tripo-python-sdk/releases/tag/v1.0.0: "downloads … never send the
 *   API key") and expire about five minutes after issue (403 afterwards, as signed storage links do).
 */

export async function upload(
  files: Map<string, File[]>,
  fields: Fields,
  contentType: string,
  key: string,
): Promise<Record<string, unknown>> {
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    throw new TripoFailure(1003, 'The upload must be multipart/form-data with a part named file', 415);
  }
  const otherParts = [...files.keys()].filter((name) => name !== 'file');
  documentedFields(
    { ...fields, ...Object.fromEntries(otherParts.map((name) => [name, true])) },
    ['file'],
    'files',
  );
  const parts = files.get('file') ?? [];
  if (parts.length === 0) throw invalid('The multipart part file is required');
  if (parts.length > 1) throw invalid('Send one file per upload');
  const [file] = parts;
  const bytes = Buffer.from(await (file ?? new Blob()).arrayBuffer());
  if (bytes.length === 0) throw new TripoFailure(2003, 'The uploaded file is empty');

  const image = sniffFormat(bytes);
  const token = `file_${newId('uuid')}`;
  const createdAt = tripoSandboxSettings.now();
  if (image === 'png' || image === 'jpeg' || image === 'webp') {
    if (bytes.length > MAX_IMAGE_BYTES) throw invalid('Images must be at most 20 MB');
    // The side rule is checked on the header, so an image over it is refused undecoded.
    const header = readHeader(bytes);
    if (!header) throw new TripoFailure(2004, 'The image could not be decoded');
    const { width, height } = header;
    if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
      throw invalid(`Image sides must be at most ${MAX_IMAGE_SIDE} px (got ${width}x${height})`);
    }
    if (!(await decodeInput(bytes, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE))) {
      throw new TripoFailure(2004, 'The image could not be decoded');
    }
    uploads.set(token, { key, bytes, kind: 'image', format: image, createdAt });
    return { file_token: token };
  }
  const model = sniffModel(bytes);
  if (!model) {
    throw new TripoFailure(
      2004,
      `Unsupported file type${image ? ` ${image}` : ''}: images PNG, JPEG or WebP; models GLB, FBX, OBJ or STL`,
    );
  }
  if (bytes.length > MAX_MODEL_BYTES) throw invalid('Models must be at most 150 MB');
  uploads.set(token, { key, bytes, kind: 'model', format: model, createdAt });
  return { file_token: token };
}

function storageError(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, headers: { 'content-type': 'application/xml' } },
  );
}

/**
 * `GET <FILES_PREFIX><id>/<name>.<ext>`: a result file while its link is fresh, unless the task
 * carries a scripted download fault (`outcome: "result:…"`, ../result-faults.ts).
 */
export async function download(request: Request, path: string, context: SandboxContext): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return storageError(
      405,
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
    );
  }
  const match = /^([0-9a-f]+)\/([a-z_]+)\.(glb|fbx|png)$/.exec(path.slice(FILES_PREFIX.length));
  const issued = match ? issuedFiles.get(match[1] ?? '') : undefined;
  const file = issued ? tasks.get(issued.taskId)?.files?.get(issued.name) : undefined;
  if (!match || !issued || !file || issued.name !== match[2] || file.ext !== match[3]) {
    return storageError(404, 'NoSuchKey', 'The specified key does not exist.');
  }
  if (tripoSandboxSettings.now() > issued.expiresAt) {
    return storageError(403, 'AccessDenied', 'Request has expired');
  }
  const faulted = await faultedDownload(tasks.get(issued.taskId)?.resultFault, request, context);
  if (faulted) return faulted;
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.bytes), {
    status: 200,
    headers: { 'content-type': file.contentType, 'content-length': String(file.bytes.length) },
  });
}

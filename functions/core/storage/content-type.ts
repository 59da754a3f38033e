import { CONTENT_TYPES, detectFormat, FILE_EXTENSIONS } from '../images/formats.ts';

/** Content type and file extension of result bytes, from their magic numbers. */
export interface FileKind {
  contentType: string;
  extension: string;
}

export function sniffFileKind(bytes: Buffer): FileKind | undefined {
  const format = detectFormat(bytes);
  if (format) return { contentType: CONTENT_TYPES[format], extension: FILE_EXTENSIONS[format] };
  if (bytes.length >= 12 && bytes.toString('ascii', 0, 4) === 'glTF') {
    return { contentType: 'model/gltf-binary', extension: 'glb' };
  }
  return undefined;
}

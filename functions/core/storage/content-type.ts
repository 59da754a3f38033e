/** Content type and file extension of result bytes, from their magic numbers. */
export interface FileKind {
  contentType: string;
  extension: string;
}

export function sniffFileKind(bytes: Buffer): FileKind | undefined {
  if (
    bytes.length >= 8 &&
    bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  ) {
    return { contentType: 'image/png', extension: 'png' };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return { contentType: 'image/jpeg', extension: 'jpg' };
  }
  if (
    bytes.length >= 12 &&
    bytes.toString('ascii', 0, 4) === 'RIFF' &&
    bytes.toString('ascii', 8, 12) === 'WEBP'
  ) {
    return { contentType: 'image/webp', extension: 'webp' };
  }
  if (bytes.length >= 6 && bytes.toString('ascii', 0, 3) === 'GIF')
    return { contentType: 'image/gif', extension: 'gif' };
  if (bytes.length >= 12 && bytes.toString('ascii', 0, 4) === 'glTF') {
    return { contentType: 'model/gltf-binary', extension: 'glb' };
  }
  return undefined;
}

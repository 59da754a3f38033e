/**
 * A glTF-binary file from its JSON document and binary chunk: 12-byte header, then a JSON chunk
 * padded with spaces and a BIN chunk, each 4-byte aligned (glTF 2.0 spec, "GLB File Format").
 * Shared by the simulators that return 3D models.
 */
export function glbContainer(gltf: unknown, bin: Buffer): Buffer {
  const jsonText = Buffer.from(JSON.stringify(gltf), 'utf8');
  const json = Buffer.alloc(Math.ceil(jsonText.length / 4) * 4, 0x20);
  jsonText.copy(json);
  const total = 12 + 8 + json.length + 8 + bin.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(0x46546c67, 0); // "glTF"
  out.writeUInt32LE(2, 4);
  out.writeUInt32LE(total, 8);
  out.writeUInt32LE(json.length, 12);
  out.writeUInt32LE(0x4e4f534a, 16); // "JSON"
  json.copy(out, 20);
  const binAt = 20 + json.length;
  out.writeUInt32LE(bin.length, binAt);
  out.writeUInt32LE(0x004e4942, binAt + 4); // "BIN\0"
  bin.copy(out, binAt + 8);
  return out;
}

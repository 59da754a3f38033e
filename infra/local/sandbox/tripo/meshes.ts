import { glbContainer } from '../glb.ts';

/**
 * The result files' meshes: a square pyramid whose height comes from the task, as a glTF-binary
 * (GLB) file — textured variants embed their PNG, the PBR one is metallic — or as an ASCII FBX
 * (what `quad: true` makes Tripo return). `retintGlb` recolours an imported GLB for re-texture tasks.
 */

export interface MeshVariant {
  colour: [number, number, number];
  /** PNG used as the base-colour texture (textured models). */
  texture?: Buffer | undefined;
  /** A metallic/roughness material, as the PBR model has. */
  pbr: boolean;
}

/** A square pyramid whose height comes from the task, flat-shaded, with UVs for the texture. */
function pyramid(key: string): { positions: number[]; normals: number[]; uvs: number[]; height: number } {
  const height = 0.6 + (Number.parseInt(key.slice(6, 8), 16) / 255) * 0.8;
  const h = 0.5;
  const corners: [number, number][] = [
    [-h, h],
    [h, h],
    [h, -h],
    [-h, -h],
  ];
  type Vec3 = [number, number, number];
  const apex: Vec3 = [0, height, 0];
  const triangles: [Vec3, Vec3, Vec3][] = [];
  for (let i = 0; i < 4; i++) {
    const [ax, az] = corners[i] ?? [0, 0];
    const [bx, bz] = corners[(i + 1) % 4] ?? [0, 0];
    triangles.push([[ax, 0, az], [bx, 0, bz], apex]);
  }
  const at = (i: number): Vec3 => {
    const [x, z] = corners[i] ?? [0, 0];
    return [x, 0, z];
  };
  // The base faces down: counter-clockwise when seen from below.
  triangles.push([at(0), at(3), at(2)], [at(0), at(2), at(1)]);
  const positions: number[] = [];
  const normals: number[] = [];
  const uvs: number[] = [];
  for (const [index, [a, b, c]] of triangles.entries()) {
    const u: Vec3 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const v: Vec3 = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    const n: Vec3 = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    const length = Math.hypot(...n) || 1;
    for (const vertex of [a, b, c]) {
      positions.push(...vertex);
      normals.push(n[0] / length, n[1] / length, n[2] / length);
    }
    if (index < 4) uvs.push(0, 1, 1, 1, 0.5, 0);
    else for (const vertex of [a, b, c]) uvs.push(vertex[0] + 0.5, vertex[2] + 0.5);
  }
  return { positions, normals, uvs, height };
}

/** A valid glTF-binary pyramid; textured variants embed the PNG, the PBR one is metallic. */
export function pyramidGlb(key: string, variant: MeshVariant): Buffer {
  const { positions, normals, uvs, height } = pyramid(key);
  const count = positions.length / 3;
  const chunks: Buffer[] = [];
  const views: { buffer: 0; byteOffset: number; byteLength: number; target?: number }[] = [];
  let offset = 0;
  const addView = (bytes: Buffer, target?: number): number => {
    const view: (typeof views)[number] = { buffer: 0, byteOffset: offset, byteLength: bytes.length };
    if (target !== undefined) view.target = target;
    views.push(view);
    const padded = Buffer.alloc(Math.ceil(bytes.length / 4) * 4);
    bytes.copy(padded);
    chunks.push(padded);
    offset += padded.length;
    return views.length - 1;
  };
  const floats = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);
  const indices = Buffer.from(new Uint16Array(Array.from({ length: count }, (_, i) => i)).buffer);
  const positionView = addView(floats(positions), 34962);
  const normalView = addView(floats(normals), 34962);
  const uvView = addView(floats(uvs), 34962);
  const indexView = addView(indices, 34963);
  const imageView = variant.texture ? addView(variant.texture) : undefined;
  const bin = Buffer.concat(chunks);

  const material: Record<string, unknown> = {
    name: variant.pbr ? 'pbr' : 'base',
    pbrMetallicRoughness: {
      baseColorFactor: variant.texture ? [1, 1, 1, 1] : [...variant.colour, 1],
      metallicFactor: variant.pbr ? 0.4 : 0,
      roughnessFactor: variant.pbr ? 0.5 : 1,
      ...(imageView === undefined ? {} : { baseColorTexture: { index: 0 } }),
    },
  };
  const gltf: Record<string, unknown> = {
    asset: { version: '2.0', generator: 'MakeIt3D Tripo sandbox', extras: { task: key.slice(0, 16) } },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [
      {
        primitives: [{ attributes: { POSITION: 0, NORMAL: 1, TEXCOORD_0: 2 }, indices: 3, material: 0 }],
      },
    ],
    materials: [material],
    buffers: [{ byteLength: bin.length }],
    bufferViews: views,
    accessors: [
      {
        bufferView: positionView,
        componentType: 5126,
        count,
        type: 'VEC3',
        min: [-0.5, 0, -0.5],
        // The bounds must equal the stored float32 values exactly.
        max: [0.5, Math.fround(height), 0.5],
      },
      { bufferView: normalView, componentType: 5126, count, type: 'VEC3' },
      { bufferView: uvView, componentType: 5126, count, type: 'VEC2' },
      { bufferView: indexView, componentType: 5123, count, type: 'SCALAR' },
    ],
  };
  if (imageView !== undefined) {
    gltf.images = [{ bufferView: imageView, mimeType: 'image/png' }];
    gltf.samplers = [{ magFilter: 9729, minFilter: 9987 }];
    gltf.textures = [{ source: 0, sampler: 0 }];
  }
  return glbContainer(gltf, bin);
}

/**
 * The same pyramid as an ASCII FBX 7.4 file (what `quad: true` makes Tripo return): four
 * triangular sides and a quad base. Textures are not embedded; the material carries the colour.
 */
export function pyramidFbx(key: string, variant: MeshVariant): Buffer {
  const height = 0.6 + (Number.parseInt(key.slice(6, 8), 16) / 255) * 0.8;
  // FBX scenes are in centimetres (UnitScaleFactor 1); Tripo models are about a metre tall.
  const vertices = [-50, 0, 50, 50, 0, 50, 50, 0, -50, -50, 0, -50, 0, height * 100, 0];
  const polygons = [0, 1, -5, 1, 2, -5, 2, 3, -5, 3, 0, -5, 0, 3, 2, -2];
  const [r, g, b] = variant.colour.map((value) => value.toFixed(4));
  const text = `; FBX 7.4.0 project file
; Created by the MakeIt3D Tripo sandbox (${key.slice(0, 16)})
; ----------------------------------------------------

FBXHeaderExtension:  {
	FBXHeaderVersion: 1003
	FBXVersion: 7400
	Creator: "MakeIt3D Tripo sandbox"
}
GlobalSettings:  {
	Version: 1000
	Properties70:  {
		P: "UpAxis", "int", "Integer", "",1
		P: "UpAxisSign", "int", "Integer", "",1
		P: "FrontAxis", "int", "Integer", "",2
		P: "FrontAxisSign", "int", "Integer", "",1
		P: "CoordAxis", "int", "Integer", "",0
		P: "CoordAxisSign", "int", "Integer", "",1
		P: "UnitScaleFactor", "double", "Number", "",1
	}
}
Definitions:  {
	Version: 100
	Count: 3
	ObjectType: "Model" {
		Count: 1
	}
	ObjectType: "Geometry" {
		Count: 1
	}
	ObjectType: "Material" {
		Count: 1
	}
}
Objects:  {
	Geometry: 1000, "Geometry::pyramid", "Mesh" {
		Vertices: *${vertices.length} {
			a: ${vertices.map((value) => value.toFixed(3)).join(',')}
		}
		PolygonVertexIndex: *${polygons.length} {
			a: ${polygons.join(',')}
		}
		GeometryVersion: 124
		Layer: 0 {
			Version: 100
		}
	}
	Model: 2000, "Model::pyramid", "Mesh" {
		Version: 232
		Properties70:  {
		}
		Shading: T
		Culling: "CullingOff"
	}
	Material: 3000, "Material::${variant.pbr ? 'pbr' : 'base'}", "" {
		Version: 102
		ShadingModel: "phong"
		MultiLayer: 0
		Properties70:  {
			P: "DiffuseColor", "Color", "", "A",${r},${g},${b}
		}
	}
}
Connections:  {
	C: "OO",2000,0
	C: "OO",1000,2000
	C: "OO",3000,2000
}
`;
  return Buffer.from(text, 'utf8');
}

/** Reads a GLB's JSON and BIN chunks; undefined when it is not a well-formed glTF 2.0 binary. */
function readGlb(bytes: Buffer): { gltf: Record<string, unknown>; bin: Buffer } | undefined {
  if (bytes.length < 20 || bytes.toString('latin1', 0, 4) !== 'glTF' || bytes.readUInt32LE(4) !== 2) {
    return undefined;
  }
  const jsonLength = bytes.readUInt32LE(12);
  if (bytes.readUInt32LE(16) !== 0x4e4f534a || 20 + jsonLength > bytes.length) return undefined;
  let gltf: unknown;
  try {
    gltf = JSON.parse(bytes.toString('utf8', 20, 20 + jsonLength));
  } catch {
    return undefined;
  }
  if (typeof gltf !== 'object' || gltf === null || Array.isArray(gltf)) return undefined;
  const binAt = 20 + jsonLength;
  let bin: Buffer = Buffer.alloc(0);
  if (binAt + 8 <= bytes.length && bytes.readUInt32LE(binAt + 4) === 0x004e4942) {
    bin = bytes.subarray(binAt + 8, Math.min(bytes.length, binAt + 8 + bytes.readUInt32LE(binAt)));
  }
  return { gltf: { ...gltf }, bin };
}

/**
 * An imported GLB with every material set to `colour` (textures dropped), the geometry untouched;
 * undefined when the file cannot be read as a GLB.
 */
export function retintGlb(bytes: Buffer, colour: [number, number, number], pbr: boolean): Buffer | undefined {
  const parsed = readGlb(bytes);
  if (!parsed) return undefined;
  const { gltf, bin } = parsed;
  const materials = Array.isArray(gltf.materials) && gltf.materials.length > 0 ? gltf.materials : [{}];
  gltf.materials = materials.map((material: unknown, index: number) => ({
    name:
      typeof material === 'object' && material !== null && 'name' in material
        ? material.name
        : `retextured_${index}`,
    pbrMetallicRoughness: {
      baseColorFactor: [...colour, 1],
      metallicFactor: pbr ? 0.4 : 0,
      roughnessFactor: pbr ? 0.5 : 1,
    },
  }));
  delete gltf.textures;
  delete gltf.images;
  delete gltf.samplers;
  return glbContainer(gltf, bin);
}

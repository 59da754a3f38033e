import { glbContainer } from './glb.ts';
import {
  blurred,
  contentTypes,
  cutOut,
  type DecodedInput,
  decodeInput,
  digest,
  encodePicture,
  newId,
  type Picture,
  paint,
  type RasterFormat,
  readBody,
  readHeader,
  resized,
  scaled,
  sizeForAspect,
} from './image-input.ts';
import { jsonResponse, type SandboxContext, type SandboxSimulator } from './sandbox.ts';

/**
 * Stability AI REST v2beta, as documented (docs/providers/stability.md; faults: docs/api.md, Local stack): every
 * operation is a synchronous multipart POST under `/v2beta/…` authorised by `authorization: Bearer`.
 * Image operations answer raw bytes (`accept: image/*`, the default) with `finish-reason`, `seed`
 * and `x-request-id` headers, or JSON `{image, seed, finish_reason}` (`accept: application/json`);
 * the 3D operations answer a GLB. Every error has the body `{id, name, errors: ["field: …"]}`.
 *
 * Faults (taken once per authorised POST, before validation):
 * - `status` → that status with Stability's body for it (400 bad_request, 401 unauthorized,
 *   402 payment_required, 403 content_moderation, 404 not_found, 413 payload_too_large,
 *   422 invalid_language — or `public_figure` when the fault's `outcome` says so —,
 *   429 rate_limit_exceeded, 500 internal_error, anything else a generic name).
 * - `moderated` → image operations answer HTTP 200 with `finish-reason: CONTENT_FILTERED` and a
 *   blurred image (a valid request is still required); the 3D operations, which have no finish
 *   reason, answer 403 content_moderation.
 * - `timeout` → no answer until the client disconnects.
 */

/** Knobs for tests; the local stack keeps the defaults. */
export const stabilitySandboxSettings = {
  /**
   * Multiplies each side of the aspect-ratio-sized outputs (generate, control/style): tests use
   * e.g. 0.25 to draw 256x256 instead of 1024x1024. Outputs sized from the input are unaffected.
   */
  outputScale: 1,
};

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_UPSCALE_PIXELS = 16 * 1024 * 1024;

const ASPECT_RATIOS = ['21:9', '16:9', '3:2', '5:4', '1:1', '4:5', '2:3', '9:16', '9:21'] as const;
const STYLE_PRESETS = [
  'enhance',
  'anime',
  'photographic',
  'digital-art',
  'comic-book',
  'fantasy-art',
  'line-art',
  'analog-film',
  'neon-punk',
  'isometric',
  'low-poly',
  'origami',
  'modeling-compound',
  'cinematic',
  '3d-model',
  'pixel-art',
  'tile-texture',
] as const;
const ALL_FORMATS = ['jpeg', 'png', 'webp'] as const;

type Rule =
  | { type: 'string'; max: number; required?: boolean }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'number'; min: number; max: number; integer?: boolean };

interface ImageRule {
  minSide: number;
  maxSide?: number;
  minPixels: number;
  maxPixels?: number;
  /** Widest allowed width:height (and its inverse as the tallest). */
  maxAspect?: number;
}

type Values = Record<string, string | number>;

interface Endpoint {
  product: 'image' | 'model';
  fields: Record<string, Rule>;
  image?: { required: boolean; rule: ImageRule };
  /**
   * Output size: by `aspect_ratio` at `megapixels`; the same but following the init image's
   * proportions when one is sent (ultra, sd3 image-to-image); the input's size; or 4x the input.
   */
  size?: 'aspect' | 'aspect-or-input' | 'input' | 'upscale';
  megapixels?: number;
  /** How visible the input is in the result, from the request. */
  inputOpacity?: (values: Values) => number;
  /** Rules that tie fields together. */
  check?: (values: Values, hasImage: boolean) => string[];
}

const prompt: Rule = { type: 'string', max: 10_000, required: true };
const negativePrompt: Rule = { type: 'string', max: 10_000 };
const seed: Rule = { type: 'number', min: 0, max: 4_294_967_294, integer: true };
const aspectRatio: Rule = { type: 'enum', values: ASPECT_RATIOS };
const stylePreset: Rule = { type: 'enum', values: STYLE_PRESETS };
const outputFormat: Rule = { type: 'enum', values: ALL_FORMATS };
const unit: Rule = { type: 'number', min: 0, max: 1 };
const textureResolution: Rule = { type: 'enum', values: ['512', '1024', '2048'] };
const remesh: Rule = { type: 'enum', values: ['none', 'triangle', 'quad'] };

/** Control and most edit services: sides ≥ 64, 4,096–9,437,184 px, aspect 1:2.5–2.5:1. */
const controlImage: ImageRule = { minSide: 64, minPixels: 4_096, maxPixels: 9_437_184, maxAspect: 2.5 };
/**
 * Only generate/ultra (sides up to 16,384 px) and generate/sd3 (no upper bound) take more pixels
 * than this; the sandbox refuses to decode more, to keep the shared host responsive.
 */
const MAX_DECODE_PIXELS = 6000 * 6000;
/** Remove background and the 3D services: sides ≥ 64, 4,096–4,194,304 px. */
const smallImage: ImageRule = { minSide: 64, minPixels: 4_096, maxPixels: 4_194_304 };

const num = (values: Values, name: string, fallback: number): number => {
  const value = values[name];
  return typeof value === 'number' ? value : fallback;
};

const ENDPOINTS: Record<string, Endpoint> = {
  '/v2beta/stable-image/generate/ultra': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      aspect_ratio: aspectRatio,
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
      strength: unit,
    },
    image: { required: false, rule: { minSide: 64, maxSide: 16_384, minPixels: 4_096 } },
    size: 'aspect-or-input',
    megapixels: 1,
    inputOpacity: (values) => 1 - num(values, 'strength', 0.5),
    check: (values, hasImage) =>
      hasImage && values.strength === undefined ? ['strength: required when an image is provided'] : [],
  },
  '/v2beta/stable-image/generate/core': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      aspect_ratio: aspectRatio,
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
    },
    size: 'aspect',
    megapixels: 1.5,
  },
  '/v2beta/stable-image/generate/sd3': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      mode: { type: 'enum', values: ['text-to-image', 'image-to-image'] },
      strength: unit,
      aspect_ratio: aspectRatio,
      model: {
        type: 'enum',
        values: [
          'sd3.5-large',
          'sd3.5-large-turbo',
          'sd3.5-medium',
          'sd3.5-flash',
          // Retired ids are re-routed to their 3.5 equivalent, not rejected.
          'sd3-large',
          'sd3-large-turbo',
          'sd3-medium',
        ],
      },
      seed,
      // SD3's documented enum has no webp, unlike the other image services.
      output_format: { type: 'enum', values: ['jpeg', 'png'] },
      style_preset: stylePreset,
      cfg_scale: { type: 'number', min: 1, max: 10 },
    },
    image: { required: false, rule: { minSide: 64, minPixels: 4_096 } },
    size: 'aspect-or-input',
    megapixels: 1,
    inputOpacity: (values) => 1 - num(values, 'strength', 0.5),
    check: (values, hasImage) => {
      const errors: string[] = [];
      if (values.mode === 'image-to-image') {
        if (!hasImage) errors.push('image: required for image-to-image mode');
        if (values.strength === undefined) errors.push('strength: required for image-to-image mode');
      } else if (hasImage) {
        errors.push('image: only allowed when mode is image-to-image');
      }
      return errors;
    },
  },
  '/v2beta/stable-image/control/sketch': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      control_strength: unit,
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
    },
    image: { required: true, rule: controlImage },
    size: 'input',
    inputOpacity: (values) => num(values, 'control_strength', 0.7),
  },
  '/v2beta/stable-image/control/structure': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      control_strength: unit,
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
    },
    image: { required: true, rule: controlImage },
    size: 'input',
    inputOpacity: (values) => num(values, 'control_strength', 0.7),
  },
  '/v2beta/stable-image/control/style': {
    product: 'image',
    fields: {
      prompt,
      negative_prompt: negativePrompt,
      aspect_ratio: aspectRatio,
      fidelity: unit,
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
    },
    image: { required: true, rule: controlImage },
    // Style transfer draws a new picture in the reference's style; its shape comes from
    // `aspect_ratio` (default 1:1), not from the reference image.
    size: 'aspect',
    megapixels: 1,
    inputOpacity: (values) => num(values, 'fidelity', 0.5),
  },
  '/v2beta/stable-image/edit/remove-background': {
    product: 'image',
    fields: { output_format: { type: 'enum', values: ['png', 'webp'] } },
    image: { required: true, rule: smallImage },
    size: 'input',
  },
  '/v2beta/stable-image/edit/search-and-recolor': {
    product: 'image',
    fields: {
      prompt,
      select_prompt: { type: 'string', max: 10_000, required: true },
      negative_prompt: negativePrompt,
      grow_mask: { type: 'number', min: 0, max: 20, integer: true },
      seed,
      output_format: outputFormat,
      style_preset: stylePreset,
    },
    image: { required: true, rule: controlImage },
    size: 'input',
    inputOpacity: () => 0.6,
  },
  '/v2beta/stable-image/upscale/fast': {
    product: 'image',
    fields: { output_format: outputFormat },
    image: { required: true, rule: { minSide: 32, maxSide: 1_536, minPixels: 1_024, maxPixels: 1_048_576 } },
    size: 'upscale',
  },
  '/v2beta/3d/stable-fast-3d': {
    product: 'model',
    fields: {
      texture_resolution: textureResolution,
      foreground_ratio: { type: 'number', min: 0.1, max: 1 },
      remesh,
      vertex_count: { type: 'number', min: -1, max: 20_000, integer: true },
    },
    image: { required: true, rule: smallImage },
  },
  '/v2beta/3d/stable-point-aware-3d': {
    product: 'model',
    fields: {
      texture_resolution: textureResolution,
      foreground_ratio: { type: 'number', min: 1, max: 2 },
      remesh,
      target_type: { type: 'enum', values: ['none', 'vertex', 'face'] },
      target_count: { type: 'number', min: 100, max: 20_000, integer: true },
      guidance_scale: { type: 'number', min: 1, max: 10 },
      seed,
    },
    image: { required: true, rule: smallImage },
  },
};

const ERROR_NAMES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  402: 'payment_required',
  403: 'content_moderation',
  404: 'not_found',
  413: 'payload_too_large',
  422: 'invalid_language',
  429: 'rate_limit_exceeded',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

const ERROR_MESSAGES: Record<string, string> = {
  bad_request: 'request: the request could not be processed',
  unauthorized: 'authorization: invalid or missing bearer token',
  payment_required:
    'You lack sufficient credits to make this request. Please purchase more credits and try again.',
  content_moderation:
    'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
  not_found: 'The requested resource was not found.',
  payload_too_large: 'body: the request body must not exceed 10MiB',
  invalid_language: 'prompt: English is the only supported language for this service.',
  public_figure:
    'Our system detected the likeness of a public figure in your request; it was denied and you were not charged.',
  rate_limit_exceeded:
    'You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.',
  internal_error: 'An unexpected server error has occurred, please try again later.',
};

function stabilityError(status: number, errors?: string[], name?: string): Response {
  const errorName = name ?? ERROR_NAMES[status] ?? `http_${status}`;
  return jsonResponse(status, {
    id: newId('hex'),
    name: errorName,
    errors: errors ?? [ERROR_MESSAGES[errorName] ?? `sandbox fault: HTTP ${status}`],
  });
}

function faultResponse(status: number, outcome: string | undefined): Response {
  if (status === 422 && outcome === 'public_figure') return stabilityError(422, undefined, 'public_figure');
  return stabilityError(status);
}

/** Checks the text fields against the endpoint's rules; unknown fields are ignored, as Stability does. */
function validateFields(
  fields: Record<string, unknown>,
  rules: Record<string, Rule>,
): { values: Values; errors: string[] } {
  const values: Values = {};
  const errors: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    const raw = fields[name];
    if (raw === undefined) {
      if (rule.type === 'string' && rule.required) errors.push(`${name}: cannot be empty`);
      continue;
    }
    if (typeof raw !== 'string') {
      errors.push(`${name}: must be a text field`);
      continue;
    }
    if (rule.type === 'string') {
      if (rule.required && raw.trim().length === 0) errors.push(`${name}: cannot be empty`);
      else if (raw.length > rule.max) errors.push(`${name}: must be at most ${rule.max} characters`);
      else values[name] = raw;
    } else if (rule.type === 'enum') {
      if (rule.values.includes(raw)) values[name] = raw;
      else errors.push(`${name}: must be one of: ${rule.values.join(', ')}`);
    } else {
      const value = raw.trim() === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(value)) errors.push(`${name}: must be a number`);
      else if (rule.integer && !Number.isInteger(value)) errors.push(`${name}: must be an integer`);
      else if (value < rule.min || value > rule.max)
        errors.push(`${name}: must be between ${rule.min} and ${rule.max}`);
      else values[name] = value;
    }
  }
  return { values, errors };
}

function validateImage(image: { width: number; height: number }, rule: ImageRule): string[] {
  const { width, height } = image;
  const pixels = width * height;
  const errors: string[] = [];
  if (width < rule.minSide || height < rule.minSide) {
    errors.push(`image: width and height must be at least ${rule.minSide} pixels (got ${width}x${height})`);
  }
  if (rule.maxSide !== undefined && (width > rule.maxSide || height > rule.maxSide)) {
    errors.push(`image: width and height must be at most ${rule.maxSide} pixels (got ${width}x${height})`);
  }
  if (pixels < rule.minPixels)
    errors.push(`image: must have at least ${rule.minPixels} pixels (got ${pixels})`);
  if (rule.maxPixels !== undefined && pixels > rule.maxPixels) {
    errors.push(`image: must have at most ${rule.maxPixels} pixels (got ${pixels})`);
  }
  if (rule.maxAspect !== undefined) {
    const aspect = width / height;
    if (aspect > rule.maxAspect || aspect < 1 / rule.maxAspect) {
      errors.push(`image: aspect ratio must be between 1:${rule.maxAspect} and ${rule.maxAspect}:1`);
    }
  }
  return errors;
}

/** `image/*`-style answers unless the client asked for JSON only; undefined for anything else. */
function negotiate(accept: string | null): 'bytes' | 'json' | undefined {
  if (accept === null || accept.trim() === '') return 'bytes';
  const types = accept.split(',').map((part) => (part.split(';')[0] ?? '').trim().toLowerCase());
  if (types.some((type) => type === '*/*' || type.startsWith('image/'))) return 'bytes';
  if (types.includes('application/json')) return 'json';
  return undefined;
}

function aspectOf(ratio: string): number {
  const [w, h] = ratio.split(':').map(Number);
  return (w ?? 1) / (h ?? 1);
}

function outputSize(
  endpoint: Endpoint,
  values: Values,
  input: DecodedInput | undefined,
): { width: number; height: number } {
  if (endpoint.size === 'input' && input) return { width: input.width, height: input.height };
  if (endpoint.size === 'upscale' && input) {
    const factor = Math.min(4, Math.sqrt(MAX_UPSCALE_PIXELS / (input.width * input.height)));
    return { width: Math.floor(input.width * factor), height: Math.floor(input.height * factor) };
  }
  const pixels = (endpoint.megapixels ?? 1) * 1024 * 1024;
  const aspect =
    endpoint.size === 'aspect-or-input' && input
      ? input.width / input.height
      : aspectOf(String(values.aspect_ratio ?? '1:1'));
  return scaled(sizeForAspect(aspect, pixels, 64), stabilitySandboxSettings.outputScale);
}

export const stabilitySimulator: SandboxSimulator = {
  provider: 'stability',
  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    const endpoint = ENDPOINTS[path];
    const isResults = path.startsWith('/v2beta/results/');
    if ((!endpoint || request.method !== 'POST') && !(isResults && request.method === 'GET')) {
      return stabilityError(404, [`path: ${request.method} ${path} does not exist`]);
    }

    const raw = request.method === 'POST' ? Buffer.from(await request.arrayBuffer()) : undefined;
    const copy = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      ...(raw ? { body: raw } : {}),
    });
    const body = await readBody(copy, path);
    context.record(body.recorded);

    if (!/^Bearer\s+\S+/i.test(request.headers.get('authorization') ?? '')) return stabilityError(401);

    if (isResults || !endpoint) {
      // None of the simulated services is asynchronous, so there is never a result to fetch.
      return stabilityError(
        404,
        ['id: the requested generation does not exist or has expired'],
        'generation_not_found',
      );
    }

    const fault = context.takeFault();
    if (fault?.timeout) return context.hang(request);
    if (fault?.status !== undefined) return faultResponse(fault.status, fault.outcome);
    if (fault?.moderated && endpoint.product === 'model') return stabilityError(403);
    const moderated = fault?.moderated === true;

    if ((raw?.length ?? 0) > MAX_BODY_BYTES) return stabilityError(413);
    if (!body.recorded.contentType.toLowerCase().startsWith('multipart/form-data')) {
      return stabilityError(400, ['content-type: must be multipart/form-data']);
    }
    if (body.malformed !== undefined) return stabilityError(400, [`body: malformed multipart/form-data`]);

    const accept = request.headers.get('accept');
    const answer = endpoint.product === 'image' ? negotiate(accept) : undefined;
    if (endpoint.product === 'image' && answer === undefined) {
      return stabilityError(400, ['accept: must be image/* or application/json']);
    }
    if (endpoint.product === 'model' && negotiate(accept) === 'json') {
      // The 3D services document only the GLB answer; a JSON accept is a client mistake.
      return stabilityError(400, ['accept: this service answers model/gltf-binary only; send */*']);
    }

    const { values, errors } = validateFields(body.recorded.fields, endpoint.fields);
    let input: DecodedInput | undefined;
    const imageFile = body.files.get('image')?.[0];
    if (endpoint.image) {
      if (imageFile) {
        const bytes = Buffer.from(await imageFile.arrayBuffer());
        // Size rules are checked on the header, so an image over them is refused undecoded.
        const header = readHeader(bytes);
        const sizeErrors = header ? validateImage(header, endpoint.image.rule) : [];
        errors.push(...sizeErrors);
        if (sizeErrors.length === 0) {
          const decoded = header && (await decodeInput(bytes, MAX_DECODE_PIXELS));
          if (decoded) input = decoded;
          else if (header && header.width * header.height > MAX_DECODE_PIXELS) {
            errors.push(`image: the sandbox decodes at most ${MAX_DECODE_PIXELS} pixels`);
          } else errors.push('image: could not be decoded; supported formats are jpeg, png and webp');
        }
      } else if (typeof body.recorded.fields.image === 'string') {
        errors.push('image: must be a file');
      } else if (endpoint.image.required) {
        errors.push('image: required');
      }
    }
    errors.push(...(endpoint.check?.(values, imageFile !== undefined) ?? []));
    if (errors.length > 0) return stabilityError(400, errors);

    const requestId = newId('hex');
    const fieldsKey = JSON.stringify(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
    const inputKey = input ? digest(input.bytes) : '';
    const givenSeed = typeof values.seed === 'number' ? values.seed : 0;
    // Seed 0 means "random"; a seed derived from the request keeps the simulator reproducible.
    const usedSeed =
      givenSeed !== 0
        ? givenSeed
        : (Number.parseInt(digest(path, fieldsKey, inputKey).slice(0, 8), 16) % 4_294_967_294) + 1;

    if (endpoint.product === 'model') {
      const glb = triangleGlb(digest(path, fieldsKey, inputKey, String(usedSeed)), values);
      return new Response(new Uint8Array(glb), {
        status: 200,
        headers: { 'content-type': 'model/gltf-binary', 'x-request-id': requestId },
      });
    }

    const format: RasterFormat =
      values.output_format === 'jpeg' || values.output_format === 'webp' ? values.output_format : 'png';
    const size = outputSize(endpoint, values, input);
    let picture: Picture;
    if (path.endsWith('/remove-background') && input) picture = cutOut(input.image);
    else if (endpoint.size === 'upscale' && input) picture = resized(input.image, size.width, size.height);
    else {
      picture = await paint({
        seed: digest(path, fieldsKey, inputKey, String(usedSeed)),
        width: size.width,
        height: size.height,
        input,
        inputOpacity: endpoint.inputOpacity?.(values) ?? 0.5,
      });
    }
    if (moderated) picture = blurred(picture);
    const bytes = await encodePicture(picture, format);
    const finishReason = moderated ? 'CONTENT_FILTERED' : 'SUCCESS';

    if (answer === 'json') {
      return jsonResponse(
        200,
        { image: bytes.toString('base64'), seed: usedSeed, finish_reason: finishReason },
        { 'content-type': `application/json; type=${contentTypes[format]}`, 'x-request-id': requestId },
      );
    }
    return new Response(new Uint8Array(bytes), {
      status: 200,
      headers: {
        'content-type': contentTypes[format],
        'finish-reason': finishReason,
        seed: String(usedSeed),
        'x-request-id': requestId,
      },
    });
  },
};

/**
 * A minimal valid glTF-binary: one double-sided triangle whose colour and size come from the
 * request, so different inputs give different files and loaders downstream run for real.
 */
export function triangleGlb(key: string, values: Values): Buffer {
  const channel = (i: number): number => Number.parseInt(key.slice(i * 2, i * 2 + 2), 16) / 255;
  const ratio = num(values, 'foreground_ratio', 0.85);
  const half = 0.5 * ratio;
  const positions = new Float32Array([-half, -half, 0, half, -half, 0, 0, half, 0]);
  const normals = new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1]);
  const indices = new Uint16Array([0, 1, 2]);
  const binLength = positions.byteLength + normals.byteLength + indices.byteLength;
  const bin = Buffer.alloc(Math.ceil(binLength / 4) * 4);
  Buffer.from(positions.buffer).copy(bin, 0);
  Buffer.from(normals.buffer).copy(bin, positions.byteLength);
  Buffer.from(indices.buffer).copy(bin, positions.byteLength + normals.byteLength);
  const gltf = {
    asset: { version: '2.0', generator: 'MakeIt3D Stability sandbox', extras: { request: key.slice(0, 16) } },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: 0 }] }],
    materials: [
      {
        doubleSided: true,
        pbrMetallicRoughness: {
          baseColorFactor: [channel(0), channel(1), channel(2), 1],
          metallicFactor: 0,
          roughnessFactor: 1,
        },
      },
    ],
    buffers: [{ byteLength: binLength }],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: positions.byteLength, target: 34962 },
      { buffer: 0, byteOffset: positions.byteLength, byteLength: normals.byteLength, target: 34962 },
      {
        buffer: 0,
        byteOffset: positions.byteLength + normals.byteLength,
        byteLength: indices.byteLength,
        target: 34963,
      },
    ],
    accessors: [
      {
        bufferView: 0,
        componentType: 5126,
        count: 3,
        type: 'VEC3',
        min: [-half, -half, 0],
        max: [half, half, 0],
      },
      { bufferView: 1, componentType: 5126, count: 3, type: 'VEC3' },
      { bufferView: 2, componentType: 5123, count: 3, type: 'SCALAR' },
    ],
  };
  return glbContainer(gltf, bin);
}

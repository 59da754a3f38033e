import {
  contentTypes,
  cutOut,
  type DecodedInput,
  decodeInput,
  digest,
  encodePicture,
  FetchInputError,
  fetchInput,
  newId,
  type Picture,
  paint,
  parseDataUrl,
  type RasterFormat,
  readBody,
  readHeader,
  resized,
  scaled,
} from './image-input.ts';
import { faultedDownload, faultForResult, parseResultFault, type ResultFault } from './result-faults.ts';
import { jsonResponse, type SandboxContext, type SandboxSimulator } from './sandbox.ts';

/**
 * Recraft's external API (docs/providers/recraft.md; faults: docs/api.md, Local stack): synchronous operations
 * under `/v1/images/…`, `authorization: Bearer <token>`, JSON bodies (inputs as `image_url` /
 * `mask_url`, data: or http(s) URLs) or multipart (files `image` / `mask`).
 *
 * Results are `{created, credits, data: [{image_id, url | b64_json}]}` (generate, image-to-image,
 * inpaint) or `{created, credits, image: {image_id, url | b64_json}}` (processing tools). A `url`
 * points back at this simulator (`<baseUrl>/files/<image_id>.<ext>`) and stops working after
 * `recraftSandboxSettings.fileTtlMs` (24 h, as Recraft keeps files "about 24 hours").
 *
 * Error bodies. Recraft documents only two: 401 `text/plain` "request unauthorized" and 404
 * `text/plain` "404 page not found"; everything else is "a non-2xx status with a body that
 * explains". The simulator answers those as `application/json` `{code, message}` — `code` a short
 * snake_case reason (`invalid_params`, `invalid_image`, `invalid_mask`, `content_policy_violation`,
 * `not_enough_credits`, `forbidden`, `too_many_requests`, `internal_error`), `message` the
 * explanation — so a client that reads text first and parses JSON only for `application/json`
 * handles both kinds.
 *
 * Faults (taken once per authorised `POST /v1/images/…`, before validation; file downloads and
 * `GET /v1/users/me` never take one):
 * - `status` → that status with the body above for it (401 and 404 as plain text).
 * - `moderated` → 400 `{code: "content_policy_violation", …}`.
 * - `timeout` → no answer until the client disconnects.
 * - `outcome: "result:…"` → the call succeeds, and downloads of its result URLs answer with a
 *   fault (503/429 a number of times, a redirect, a stall; `@<index>` picks one of the `n`
 *   images): the grammar is in ./result-faults.ts.
 */

export const recraftSandboxSettings = {
  /**
   * Multiplies each side of generated images (tests use e.g. 0.25 to draw 256x256 instead of
   * 1024x1024); images sized from an input are unaffected.
   */
  outputScale: 1,
  /** How long a result URL keeps working. */
  fileTtlMs: 24 * 60 * 60 * 1000,
};

/** Forgets every stored result file (tests call it between cases). */
export function resetRecraftSandbox(): void {
  files.clear();
}

interface StoredFile {
  bytes: Buffer;
  contentType: string;
  expiresAt: number;
  /** A scripted download fault (`outcome: "result:…"`), used up by downloads. */
  fault?: ResultFault | undefined;
}

/** Result files by `<image_id>.<ext>`; bounded so a long-running local stack does not grow without end. */
const files = new Map<string, StoredFile>();
const MAX_STORED_FILES = 300;

const MAX_INPUT_BYTES = 10 * 1024 * 1024;
const MAX_INPUT_PIXELS = 16 * 1024 * 1024;

type Family = 'v2' | 'v3' | 'v4' | 'v4pro';

const MODELS: Record<string, { family: Family; vector: boolean }> = {
  recraftv2: { family: 'v2', vector: false },
  recraftv2_vector: { family: 'v2', vector: true },
  recraftv3: { family: 'v3', vector: false },
  recraftv3_vector: { family: 'v3', vector: true },
  recraftv4: { family: 'v4', vector: false },
  recraftv4_vector: { family: 'v4', vector: true },
  recraftv4_pro: { family: 'v4pro', vector: false },
  recraftv4_pro_vector: { family: 'v4pro', vector: true },
  recraftv4_1: { family: 'v4', vector: false },
  recraftv4_1_vector: { family: 'v4', vector: true },
  recraftv4_1_pro: { family: 'v4pro', vector: false },
  recraftv4_1_pro_vector: { family: 'v4pro', vector: true },
};
/** Recraft's current docs default to V4.1 (and ask clients to always send `model`). */
const DEFAULT_MODEL = 'recraftv4_1';

/** Supported sizes per model family, from Recraft's appendix: [aspect, width, height]. */
const V3_SIZES: [string, number, number][] = [
  ['1:1', 1024, 1024],
  ['2:1', 2048, 1024],
  ['1:2', 1024, 2048],
  ['3:2', 1536, 1024],
  ['2:3', 1024, 1536],
  ['4:3', 1365, 1024],
  ['3:4', 1024, 1365],
  ['5:4', 1280, 1024],
  ['4:5', 1024, 1280],
  ['6:10', 1024, 1707],
  ['10:6', 1707, 1024],
  ['14:10', 1434, 1024],
  ['10:14', 1024, 1434],
  ['16:9', 1820, 1024],
  ['9:16', 1024, 1820],
];
const V4_SIZES: [string, number, number][] = [
  ['1:1', 1024, 1024],
  ['2:1', 1536, 768],
  ['1:2', 768, 1536],
  ['3:2', 1280, 832],
  ['2:3', 832, 1280],
  ['4:3', 1216, 896],
  ['3:4', 896, 1216],
  ['5:4', 1152, 896],
  ['4:5', 896, 1152],
  ['6:10', 832, 1344],
  ['14:10', 1280, 896],
  ['10:14', 896, 1280],
  ['16:9', 1344, 768],
  ['9:16', 768, 1344],
];
const SIZES: Record<Family, [string, number, number][]> = {
  v2: V3_SIZES,
  v3: V3_SIZES,
  v4: V4_SIZES,
  v4pro: V4_SIZES.map(([aspect, w, h]) => [aspect, w * 2, h * 2]),
};

const STYLES: Record<Family, readonly string[]> = {
  v2: ['realistic_image', 'digital_illustration', 'vector_illustration', 'icon', 'any'],
  v3: ['realistic_image', 'digital_illustration', 'vector_illustration', 'logo_raster', 'any'],
  v4: [],
  v4pro: [],
};

const OPERATIONS = [
  'generations',
  'imageToImage',
  'inpaint',
  'removeBackground',
  'crispUpscale',
  'creativeUpscale',
] as const;
type Operation = (typeof OPERATIONS)[number];
const isOperation = (name: string | undefined): name is Operation =>
  OPERATIONS.some((operation) => operation === name);
const TOOL_CREDITS: Record<string, number> = { removeBackground: 10, crispUpscale: 4, creativeUpscale: 250 };

function textResponse(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

const notFound = (): Response => textResponse(404, '404 page not found');
const unauthorized = (): Response => textResponse(401, 'request unauthorized');

function recraftError(status: number, code: string, message: string): Response {
  return jsonResponse(status, { code, message });
}

function faultResponse(status: number): Response {
  switch (status) {
    case 401:
      return unauthorized();
    case 404:
      return notFound();
    case 400:
      return recraftError(400, 'invalid_params', 'The request could not be processed (sandbox fault).');
    case 402:
      return recraftError(402, 'not_enough_credits', 'Not enough API units on the account balance.');
    case 403:
      return recraftError(403, 'forbidden', 'The token is not allowed to perform this operation.');
    case 429:
      return recraftError(429, 'too_many_requests', 'Too many requests; slow down and retry later.');
    case 500:
      return recraftError(500, 'internal_error', 'Internal server error.');
    default:
      return recraftError(status, `http_${status}`, `Sandbox fault: HTTP ${status}.`);
  }
}

/** A rejected request; `code` and `message` become the JSON error body. */
class Rejection extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): Rejection => new Rejection('invalid_params', message);

/**
 * Typed access to the body fields. JSON bodies carry real types; multipart bodies carry text, which
 * is converted the way Recraft's form decoder does (numbers, `true`/`false`, JSON for objects).
 */
class Fields {
  constructor(
    private readonly fields: Record<string, unknown>,
    private readonly multipart: boolean,
  ) {}

  has(name: string): boolean {
    const value = this.fields[name];
    return value !== undefined && value !== null && !(this.multipart && value === '');
  }

  string(name: string): string | undefined {
    if (!this.has(name)) return undefined;
    const value = this.fields[name];
    if (typeof value !== 'string') throw invalid(`${name}: must be a string`);
    return value;
  }

  number(name: string, integer: boolean): number | undefined {
    if (!this.has(name)) return undefined;
    const raw = this.fields[name];
    const value = this.multipart && typeof raw === 'string' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name}: must be a number`);
    if (integer && !Number.isInteger(value)) throw invalid(`${name}: must be an integer`);
    return value;
  }

  object(name: string): Record<string, unknown> | undefined {
    if (!this.has(name)) return undefined;
    let value = this.fields[name];
    if (this.multipart && typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        throw invalid(`${name}: must be a JSON object`);
      }
    }
    if (!value || typeof value !== 'object' || Array.isArray(value))
      throw invalid(`${name}: must be an object`);
    return value as Record<string, unknown>;
  }
}

interface Common {
  model: string;
  family: Family;
  vector: boolean;
  prompt: string;
  n: number;
  responseFormat: 'url' | 'b64_json';
  imageFormat: RasterFormat;
  /** Everything that shapes the picture, for the drawing seed. */
  key: string;
}

/** Checks the parameters generate, image-to-image and inpaint share. */
function readCommon(fields: Fields): Common {
  const model = fields.string('model') ?? DEFAULT_MODEL;
  const spec = MODELS[model];
  if (!spec)
    throw invalid(`model: unknown model "${model}"; expected one of ${Object.keys(MODELS).join(', ')}`);
  const prompt = fields.string('prompt');
  if (prompt === undefined || prompt.trim() === '') throw invalid('prompt: is required');
  const maxPrompt = spec.family === 'v2' || spec.family === 'v3' ? 1000 : 10_000;
  if (prompt.length > maxPrompt)
    throw invalid(`prompt: must be at most ${maxPrompt} characters for ${model}`);

  const style = fields.string('style');
  const substyle = fields.string('substyle');
  const styleId = fields.string('style_id');
  const negative = fields.string('negative_prompt');
  const modern = spec.family === 'v4' || spec.family === 'v4pro';
  if (modern && style !== undefined) throw invalid(`style: is not supported by ${model}`);
  if (modern && substyle !== undefined) throw invalid(`substyle: is not supported by ${model}`);
  if (modern && negative !== undefined) throw invalid(`negative_prompt: is not supported by ${model}`);
  if (style !== undefined && styleId !== undefined)
    throw invalid('style and style_id: are mutually exclusive');
  if (style !== undefined && !STYLES[spec.family].includes(style)) {
    throw invalid(`style: unknown style "${style}" for ${model}`);
  }
  if (substyle !== undefined && style === undefined) throw invalid('substyle: requires style');
  if (
    styleId !== undefined &&
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(styleId)
  ) {
    throw invalid('style_id: must be a UUID');
  }

  const n = fields.number('n', true) ?? 1;
  if (n < 1 || n > 6) throw invalid('n: must be between 1 and 6');
  const seed = fields.number('random_seed', true);
  if (seed !== undefined && (seed < 0 || seed > 4_294_967_295))
    throw invalid('random_seed: must be a uint32');
  const controls = fields.object('controls');
  if (controls) checkControls(controls);

  return {
    model,
    family: spec.family,
    vector: spec.vector,
    prompt,
    n,
    ...readOutput(fields),
    key: JSON.stringify([model, prompt, style, substyle, styleId, negative, seed, controls]),
  };
}

function readOutput(fields: Fields): { responseFormat: 'url' | 'b64_json'; imageFormat: RasterFormat } {
  const responseFormat = fields.string('response_format') ?? 'url';
  if (responseFormat !== 'url' && responseFormat !== 'b64_json') {
    throw invalid('response_format: must be one of url, b64_json');
  }
  const imageFormat = fields.string('image_format') ?? 'webp';
  if (imageFormat !== 'webp' && imageFormat !== 'png')
    throw invalid('image_format: must be one of webp, png');
  return { responseFormat, imageFormat };
}

function checkControls(controls: Record<string, unknown>): void {
  const isRgb = (value: unknown): boolean => {
    if (!value || typeof value !== 'object') return false;
    const rgb = (value as { rgb?: unknown }).rgb;
    return (
      Array.isArray(rgb) &&
      rgb.length === 3 &&
      rgb.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255)
    );
  };
  const { colors, background_color: background, artistic_level: level, no_text: noText } = controls;
  if (colors !== undefined && !(Array.isArray(colors) && colors.every(isRgb))) {
    throw invalid('controls.colors: must be a list of {"rgb": [r, g, b]} with integers 0-255');
  }
  if (background !== undefined && !isRgb(background)) {
    throw invalid('controls.background_color: must be {"rgb": [r, g, b]} with integers 0-255');
  }
  if (
    level !== undefined &&
    !(typeof level === 'number' && Number.isInteger(level) && level >= 0 && level <= 5)
  ) {
    throw invalid('controls.artistic_level: must be an integer between 0 and 5');
  }
  if (noText !== undefined && typeof noText !== 'boolean')
    throw invalid('controls.no_text: must be a boolean');
}

function generationSize(fields: Fields, family: Family): { width: number; height: number } {
  const size = fields.string('size') ?? '1024x1024';
  const table = SIZES[family];
  const entry = table.find(([aspect, w, h]) => size === aspect || size === `${w}x${h}`);
  if (!entry) {
    throw invalid(
      `size: unsupported size "${size}"; supported: ${table.map(([, w, h]) => `${w}x${h}`).join(', ')}`,
    );
  }
  return { width: entry[1], height: entry[2] };
}

interface Body {
  fields: Fields;
  files: Map<string, File[]>;
}

/** Reads the `image` (or `mask`) input from a file part or a `<name>_url` field. */
async function readInput(
  body: Body,
  name: 'image' | 'mask',
  options: { legacyFile: boolean; minSide: number; signal: AbortSignal },
): Promise<{ input: DecodedInput; legacy: boolean }> {
  let bytes: Buffer | undefined;
  let legacy = false;
  const file = body.files.get(name)?.[0] ?? (options.legacyFile ? body.files.get('file')?.[0] : undefined);
  if (file) {
    legacy = !body.files.has(name);
    bytes = Buffer.from(await file.arrayBuffer());
  } else {
    const url = body.fields.string(`${name}_url`);
    if (url === undefined) throw invalid(`${name}: is required (as a file, or as ${name}_url)`);
    if (url.startsWith('data:')) {
      bytes = parseDataUrl(url);
      if (!bytes) throw new Rejection('invalid_image', `${name}_url: malformed data URL`);
    } else if (/^https?:\/\//i.test(url)) {
      try {
        bytes = await fetchInput(url, MAX_INPUT_BYTES, options.signal);
      } catch (error) {
        if (error instanceof FetchInputError)
          throw new Rejection('invalid_image', `${name}_url: ${error.message}`);
        throw error;
      }
    } else {
      throw invalid(`${name}_url: must be an http(s) or data: URL`);
    }
  }
  const code = name === 'mask' ? 'invalid_mask' : 'invalid_image';
  if (bytes.length > MAX_INPUT_BYTES) throw new Rejection(code, `${name}: file must be under 10 MB`);
  const unreadable = () =>
    new Rejection(code, `${name}: unsupported or corrupt image; expected PNG, JPG or WEBP`);
  // The size rules are checked on the header, so an image over them is refused undecoded.
  const header = readHeader(bytes);
  if (!header) throw unreadable();
  const { width, height } = header;
  if (width * height > MAX_INPUT_PIXELS) throw new Rejection(code, `${name}: must be at most 16 MP`);
  if (width < options.minSide || height < options.minSide || width > 4096 || height > 4096) {
    throw new Rejection(
      code,
      `${name}: each side must be between ${options.minSide} and 4096 px (got ${width}x${height})`,
    );
  }
  const input = await decodeInput(bytes, MAX_INPUT_PIXELS);
  if (!input) throw unreadable();
  return { input, legacy };
}

/** Every mask pixel must be pure black (keep) or pure white (regenerate). */
function checkMask(mask: DecodedInput, image: DecodedInput): void {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new Rejection(
      'invalid_mask',
      `mask: must have the image's size ${image.width}x${image.height} (got ${mask.width}x${mask.height})`,
    );
  }
  const data = mask.image.bitmap.data;
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i];
    if ((r !== 0 && r !== 255) || data[i + 1] !== r || data[i + 2] !== r) {
      throw new Rejection('invalid_mask', 'mask: every pixel must be pure black (0) or pure white (255)');
    }
  }
}

interface Output {
  bytes: Buffer;
  ext: string;
  contentType: string;
}

async function rasterOutput(picture: Picture, format: RasterFormat): Promise<Output> {
  return { bytes: await encodePicture(picture, format), ext: format, contentType: contentTypes[format] };
}

/** Vector models answer SVG: a real, small drawing derived from the same seed. */
function svgOutput(seed: string, width: number, height: number): Output {
  const hex = digest(seed);
  const byte = (i: number): number => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const color = (i: number): string => `rgb(${byte(i)},${byte(i + 1)},${byte(i + 2)})`;
  const cx = Math.round((byte(9) / 255) * width);
  const cy = Math.round((byte(10) / 255) * height);
  const r = Math.round((0.15 + (byte(11) / 255) * 0.3) * Math.min(width, height));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="${width}" height="${height}" fill="${color(0)}"/>` +
    `<polygon points="0,${height} ${Math.round(width / 2)},${Math.round(height / 3)} ${width},${height}" fill="${color(3)}"/>` +
    `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${color(6)}"/>` +
    '</svg>';
  return { bytes: Buffer.from(svg, 'utf8'), ext: 'svg', contentType: 'image/svg+xml' };
}

function store(
  output: Output,
  baseUrl: string,
  fault: ResultFault | undefined,
): { image_id: string; url: string } {
  const now = Date.now();
  for (const [name, file] of files) {
    if (file.expiresAt <= now || files.size >= MAX_STORED_FILES) files.delete(name);
    else break;
  }
  const imageId = newId('uuid');
  const name = `${imageId}.${output.ext}`;
  files.set(name, {
    bytes: output.bytes,
    contentType: output.contentType,
    expiresAt: now + recraftSandboxSettings.fileTtlMs,
    fault,
  });
  return { image_id: imageId, url: `${baseUrl}/files/${name}` };
}

function deliver(
  output: Output,
  responseFormat: 'url' | 'b64_json',
  baseUrl: string,
  fault?: ResultFault,
): { image_id: string; url: string } | { image_id: string; b64_json: string } {
  if (responseFormat === 'url') return store(output, baseUrl, fault);
  return { image_id: newId('uuid'), b64_json: output.bytes.toString('base64') };
}

function creditsPerImage(family: Family, vector: boolean): number {
  if (family === 'v4pro') return vector ? 300 : 250;
  return vector ? 80 : 40;
}

async function operate(
  operation: Operation,
  body: Body,
  context: SandboxContext,
  signal: AbortSignal,
  resultFault: ResultFault | undefined,
): Promise<Response> {
  const { fields } = body;
  const created = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {};

  if (operation === 'removeBackground' || operation === 'crispUpscale' || operation === 'creativeUpscale') {
    const { input, legacy } = await readInput(body, 'image', {
      legacyFile: true,
      minSide: operation === 'crispUpscale' ? 32 : 256,
      signal,
    });
    if (legacy) headers['x-sandbox-warning'] = 'legacy field "file"';
    const { responseFormat, imageFormat } = readOutput(fields);
    let picture: Picture;
    if (operation === 'removeBackground') picture = cutOut(input.image);
    else {
      // Upscaled size is not documented; the simulator doubles each side, up to 16 MP.
      const factor = Math.min(2, Math.sqrt(MAX_INPUT_PIXELS / (input.width * input.height)));
      const width = Math.floor(input.width * factor);
      const height = Math.floor(input.height * factor);
      picture = resized(input.image, width, height);
      if (operation === 'creativeUpscale') {
        // Creative upscale regenerates detail: a faint layer of new picture over the enlargement.
        const detail = await paint({ seed: digest(operation, input.bytes), width, height });
        picture.composite(detail, 0, 0, { opacitySource: 0.15 });
      }
    }
    const output = await rasterOutput(picture, imageFormat);
    return jsonResponse(
      200,
      {
        created,
        credits: TOOL_CREDITS[operation] ?? 0,
        image: deliver(output, responseFormat, context.baseUrl, faultForResult(resultFault, 0)),
      },
      headers,
    );
  }

  const common = readCommon(fields);
  let size: { width: number; height: number };
  let input: DecodedInput | undefined;
  let mask: DecodedInput | undefined;
  let strength = 0;
  if (operation === 'generations') {
    size = scaled(generationSize(fields, common.family), recraftSandboxSettings.outputScale);
  } else {
    if (operation === 'imageToImage') {
      const given = fields.number('strength', false);
      if (given === undefined) throw invalid('strength: is required');
      if (given < 0 || given > 1) throw invalid('strength: must be between 0 and 1');
      strength = given;
    }
    input = (await readInput(body, 'image', { legacyFile: false, minSide: 256, signal })).input;
    if (operation === 'inpaint') {
      mask = (await readInput(body, 'mask', { legacyFile: false, minSide: 256, signal })).input;
      checkMask(mask, input);
    }
    size = { width: input.width, height: input.height };
  }

  const inputKey = input ? digest(input.bytes) : '';
  const data: ({ image_id: string; url: string } | { image_id: string; b64_json: string })[] = [];
  for (let index = 0; index < common.n; index++) {
    const seed = digest(operation, common.key, String(strength), inputKey, String(index));
    let output: Output;
    if (common.vector) output = svgOutput(seed, size.width, size.height);
    else {
      let picture = await paint({
        seed,
        width: size.width,
        height: size.height,
        // Low strength stays close to the input.
        input: operation === 'imageToImage' ? input : undefined,
        inputOpacity: 1 - strength,
      });
      if (input && mask) picture = keepUnmasked(picture, input, mask);
      output = await rasterOutput(picture, common.imageFormat);
    }
    data.push(deliver(output, common.responseFormat, context.baseUrl, faultForResult(resultFault, index)));
  }
  const credits = common.n * creditsPerImage(common.family, common.vector);
  return jsonResponse(200, { created, credits, data }, headers);
}

/** Inpainting: new picture where the mask is white, the original where it is black. */
function keepUnmasked(picture: Picture, input: DecodedInput, mask: DecodedInput): Picture {
  const out = picture.bitmap.data;
  const original = input.image.bitmap.data;
  const keep = mask.image.bitmap.data;
  for (let i = 0; i < out.length; i += 4) {
    if (keep[i] === 0) {
      out[i] = original[i] ?? 0;
      out[i + 1] = original[i + 1] ?? 0;
      out[i + 2] = original[i + 2] ?? 0;
      out[i + 3] = original[i + 3] ?? 255;
    }
  }
  return picture;
}

export const recraftSimulator: SandboxSimulator = {
  provider: 'recraft',
  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    const body = await readBody(request, path);
    context.record(body.recorded);

    const fileMatch = /^\/files\/([A-Za-z0-9-]+\.(?:webp|png|svg))$/.exec(path);
    if (fileMatch && (request.method === 'GET' || request.method === 'HEAD')) {
      const file = files.get(fileMatch[1] ?? '');
      if (!file || file.expiresAt <= Date.now()) return notFound();
      const faulted = await faultedDownload(file.fault, request, context);
      if (faulted) return faulted;
      return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.bytes), {
        status: 200,
        headers: { 'content-type': file.contentType, 'content-length': String(file.bytes.length) },
      });
    }

    const name = /^\/v1\/images\/([A-Za-z]+)$/.exec(path)?.[1];
    const operation = isOperation(name) && request.method === 'POST' ? name : undefined;
    const isMe = path === '/v1/users/me' && request.method === 'GET';
    if (!operation && !isMe) return notFound();
    if (!/^Bearer\s+\S+/i.test(request.headers.get('authorization') ?? '')) return unauthorized();
    if (!operation)
      return jsonResponse(200, {
        id: 'sandbox-user',
        email: 'sandbox@example.com',
        name: 'Sandbox',
        credits: 1_000_000,
      });

    const fault = context.takeFault();
    if (fault?.timeout) return context.hang(request);
    if (fault?.status !== undefined) return faultResponse(fault.status);
    if (fault?.moderated) {
      return recraftError(
        400,
        'content_policy_violation',
        'The request was rejected by the content policy filter.',
      );
    }

    const contentType = body.recorded.contentType.toLowerCase();
    const multipart = contentType.startsWith('multipart/form-data');
    if (!multipart && !contentType.startsWith('application/json')) {
      return recraftError(
        400,
        'invalid_params',
        'Content-Type must be application/json or multipart/form-data',
      );
    }
    if (body.malformed !== undefined)
      return recraftError(400, 'invalid_params', `malformed body: ${body.malformed}`);
    if (body.jsonError !== undefined) return recraftError(400, 'invalid_params', body.jsonError);

    try {
      return await operate(
        operation,
        { fields: new Fields(body.recorded.fields, multipart), files: body.files },
        context,
        request.signal,
        parseResultFault(fault?.outcome),
      );
    } catch (error) {
      if (error instanceof Rejection) return recraftError(400, error.code, error.message);
      throw error;
    }
  },
};

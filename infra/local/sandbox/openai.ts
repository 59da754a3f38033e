/**
 * Sandbox simulator of the OpenAI Images API as OpenAI serves it on 2026-12-02:
 * `POST /v1/images/generations` (JSON), `POST /v1/images/edits` (multipart), `GET /v1/models` and
 * `GET /v1/models/{id}`. Written from OpenAI's public documentation and its official SDK, never from our
 * adapter: if both shared a misreading, the tests would agree with it. The model catalogue and the
 * sources behind it are in `openai/models.ts`; the main ones are the OpenAI deprecations page
 * (developers.openai.com/api/docs/deprecations), the OpenAI image generation guide
 * (developers.openai.com/api/docs/guides/image-generation) and model pages, all read 2026-12-02, and
 * openai-node src/resources/images.ts and src/resources/models.ts @ 7b7d6ca7 (2026-08-21).
 *
 * Models. Served: `gpt-image-2` (+ `-2026-04-21`), `gpt-image-2.5-sunburst|flare` (+ `-2026-09-08`),
 * `gpt-image-2.6-sunburst|flare`, on both endpoints. Shut down: `dall-e-2`, `dall-e-3`, `gpt-image-1`,
 * `gpt-image-1-mini`, `gpt-image-1.5`, `gpt-image-1.5-2025-12-16`, `chatgpt-image-latest`. A shut-down or
 * unknown id answers 404 `{"error":{"message":"The model `<id>` does not exist or you do not have access to
 * it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`: OpenAI's usual answer for a
 * model that does not exist. What OpenAI answers for a shut-down image model is unconfirmed; one public
 * report saw 400 for dall-e-3 after its shutdown (github.com/learnpack/learnpack/issues/2078, 2026-06-16,
 * third-party), so `openaiSandboxSettings.retiredModelStatus = 400` switches the
 * shut-down ids (not the never-existing ones) to 400 with the same body. A request without `model` gets
 * OpenAI's documented default (generations `dall-e-2`, edits `gpt-image-1.5`), both shut down, so it fails
 * the same way. The model is checked before any other field: a request naming a dead model learns that
 * first, whatever else is wrong with it.
 *
 * Validation (400, OpenAI's envelope with `param` and `code`): see `validateRequest`. The DALL·E fields
 * `style` and `response_format` and the DALL·E qualities `standard`/`hd` are refused on every model, since
 * only GPT image models are left and the SDK documents those as DALL·E-only. Results are always
 * `{created, background, data: [{b64_json}], output_format, quality, size, usage}`: GPT image models never
 * answer URLs. Each image is real, of the requested size and format (PNG, JPEG, WebP through the project's
 * codecs, single-frame GIF through `openai/gif.ts`), drawn from the request so a different prompt, model,
 * parameter or input image gives a different picture.
 *
 * Faults (`Fault` in sandbox.ts), taken once per authenticated images request, before its body is
 * validated; the models endpoints never take one:
 * - `status` → that status with OpenAI's own body for it; `timeout` → no answer until the client gives up;
 * - `moderated` → a valid request is refused with `moderation_blocked` (400, `image_generation_user_error`);
 * - `outcome`: `insufficient_quota` (429 billing error that must not be retried), `organization_not_verified`
 *   (403), `model_shut_down` (the request's model answers `model_not_found` as if it had just been shut
 *   down, with `retiredModelStatus`) and `model_shut_down_400` (the same, always 400).
 *
 * Deliberately stricter than OpenAI in two places: an upload whose declared MIME type disagrees with its
 * bytes is refused (`mimetype_mismatch`), to surface a mislabelled upload rather than paper over it; and
 * an upload whose header claims more than 50,000,000 pixels is refused (`image_too_large`) before it is
 * decoded, since OpenAI publishes no pixel limit and the sandbox shares its host with everything else.
 * Not simulated (400 `unsupported_in_sandbox`): streaming (`stream: true`) and 2.6's SVG output
 * (`output_format: "svg"`, the `svg` object). GIFs have one frame; 2.6's animation fields
 * (`frame_count`, `frame_duration_ms`, named only by third-party docs) are unknown parameters here. `/v1/images/variations` (a dall-e-2 endpoint) answers as an unknown URL.
 */
import { createHash, randomBytes } from 'node:crypto';
// The project's codecs, not the provider adapter: jimp can neither read nor write WebP.
import { decodeImage, encodeImage } from '../../../functions/core/images/codecs.ts';
import { readImageSize } from '../../../functions/core/images/formats.ts';
import { drawEncoded } from './draw-pool.ts';
import {
  type Endpoint,
  FAMILY_RULES,
  isRetiredModel,
  MAX_ASPECT_RATIO,
  MAX_LONG_SIDE,
  MAX_SHORT_SIDE,
  OPENAI_DEFAULT_MODEL,
  OPENAI_SERVED_MODELS,
  type OutputFormat,
  type Quality,
  type ServedModel,
  SIZE_STEP,
  STANDARD_SIZES,
  servedModel,
} from './openai/models.ts';
import {
  type Fault,
  jsonResponse,
  type RecordedRequest,
  readRequest,
  type SandboxContext,
  type SandboxSimulator,
} from './sandbox.ts';

export {
  OPENAI_DEFAULT_MODEL,
  OPENAI_RETIRED_MODELS,
  OPENAI_SERVED_MODELS,
  type ServedModel,
} from './openai/models.ts';

export interface OpenaiSandboxSettings {
  /**
   * HTTP status for a shut-down model id: 404 (default, OpenAI's usual `model_not_found`) or 400 (the
   * variant one public report describes). The body is the same either way. Ids that never existed
   * always answer 404.
   */
  retiredModelStatus: 404 | 400;
}

export const openaiSandboxSettings: OpenaiSandboxSettings = { retiredModelStatus: 404 };

/** Puts the settings back to their defaults (tests call it between cases). */
export function resetOpenaiSandboxSettings(): void {
  openaiSandboxSettings.retiredModelStatus = 404;
}

// ---- limits shared by every GPT image model (openai-node images.ts @ 2026-08-21) ----

const PROMPT_LIMIT = 32000;
const MAX_N = 10;
const MB = 1024 * 1024;
const IMAGE_MAX_BYTES = 50 * MB;
const MASK_MAX_BYTES = 4 * MB;
/**
 * OpenAI publishes no pixel or side limit for edit inputs (the SDK documents only the file size).
 * The sandbox refuses uploads whose header claims more than this, with its own code
 * `image_too_large`, before decoding anything: an upload of a few hundred bytes can claim
 * 20000 x 20000 pixels, and decoding it would hold gigabytes on the host every service shares.
 */
const MAX_INPUT_PIXELS = 50_000_000;
/**
 * Uploads up to this size are decoded (a corrupt one is refused, as OpenAI would) and blended into
 * the result; larger ones shape the result only through its seed, so the sandbox never decodes a
 * large image on the shared host.
 */
const BLEND_MAX_PIXELS = 4 * 1024 * 1024;
const MAX_INPUT_IMAGES = 16;

// ---- OpenAI's error envelope ----

interface ErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

class OpenAiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

function invalid(message: string, param: string | null, code: string | null = null): OpenAiError {
  return new OpenAiError(400, { message, type: 'invalid_request_error', param, code });
}

function unknownParameter(name: string, why = ''): OpenAiError {
  return invalid(`Unknown parameter: '${name}'.${why}`, name, 'unknown_parameter');
}

function notSimulated(what: string, param: string): OpenAiError {
  return invalid(
    `The OpenAI sandbox does not simulate ${what}; ask without it.`,
    param,
    'unsupported_in_sandbox',
  );
}

function modelNotFound(model: string, status: number): OpenAiError {
  return new OpenAiError(status, {
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    type: 'invalid_request_error',
    param: null,
    code: 'model_not_found',
  });
}

function quoteList(values: readonly string[]): string {
  const quoted = values.map((value) => `'${value}'`);
  if (quoted.length <= 1) return quoted.join('');
  if (quoted.length === 2) return `${quoted[0]} and ${quoted[1]}`;
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1]}`;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal number';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof File) return 'a file';
  return 'an object';
}

function invalidType(name: string, expected: string, value: unknown): OpenAiError {
  return invalid(
    `Invalid type for '${name}': expected ${expected}, but got ${describe(value)} instead.`,
    name,
    'invalid_type',
  );
}

function invalidValue(name: string, value: string, allowed: readonly string[]): OpenAiError {
  return invalid(
    `Invalid value: '${value}'. Supported values are: ${quoteList(allowed)}.`,
    name,
    'invalid_value',
  );
}

// ---- reading parameters from a JSON body or multipart text fields ----

/**
 * Typed access to request parameters. JSON keeps its types; multipart sends every value as text, so
 * numbers and booleans are parsed from strings there (as OpenAI does), and only there.
 */
class Params {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly multipart: boolean,
  ) {}

  /** JSON `null` means "not given", as the SDK's `?: … | null` parameter types imply. */
  has(name: string): boolean {
    const value = this.raw[name];
    return value !== undefined && value !== null;
  }

  names(): string[] {
    return Object.keys(this.raw);
  }

  string(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw invalidType(name, 'a string', value);
    return value;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) return undefined;
    let parsed: number;
    if (typeof value === 'number' && Number.isInteger(value)) {
      parsed = value;
    } else if (this.multipart && typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) {
      parsed = Number.parseInt(value, 10);
    } else {
      throw invalidType(name, 'an integer', value);
    }
    if (parsed < min) {
      throw invalid(
        `Invalid '${name}': integer below minimum value. Expected a value >= ${min}, but got ${parsed} instead.`,
        name,
        'integer_below_min_value',
      );
    }
    if (parsed > max) {
      throw invalid(
        `Invalid '${name}': integer above maximum value. Expected a value <= ${max}, but got ${parsed} instead.`,
        name,
        'integer_above_max_value',
      );
    }
    return parsed;
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'boolean') return value;
    if (this.multipart && (value === 'true' || value === 'false')) return value === 'true';
    throw invalidType(name, 'a boolean', value);
  }

  choice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const match = allowed.find((candidate) => candidate === value);
    if (match === undefined) throw invalidValue(name, value, allowed);
    return match;
  }
}

// ---- the validated request ----

interface Job {
  endpoint: Endpoint;
  model: ServedModel;
  prompt: string;
  n: number;
  width: number;
  height: number;
  /** The size answered back, `auto` resolved. */
  size: string;
  /** The quality answered back, `auto` resolved. */
  quality: Quality;
  /** 2.6 only; undefined elsewhere. */
  complexity: 'low' | 'medium' | 'high' | undefined;
  background: 'transparent' | 'opaque';
  outputFormat: OutputFormat;
  compression: number;
  inputFidelity: 'high' | 'low';
  /** First input image (as PNG or JPEG), blended into the result. */
  input: Buffer | undefined;
  /** Hash of every uploaded file, so any change of input changes the picture. */
  inputDigest: string;
  inputImages: number;
}

/** Fields each endpoint knows (openai-node ImageGenerateParams / ImageEditParams, plus 2.6's). */
const KNOWN_FIELDS: Record<Endpoint, ReadonlySet<string>> = {
  generations: new Set([
    'prompt',
    'model',
    'n',
    'size',
    'quality',
    'complexity',
    'background',
    'output_format',
    'output_compression',
    'moderation',
    'stream',
    'partial_images',
    'user',
    'safety_identifier',
    'svg',
    // DALL·E-only fields, known so that the refusal can say why.
    'style',
    'response_format',
  ]),
  edits: new Set([
    'image',
    'image[]',
    'mask',
    'prompt',
    'model',
    'n',
    'size',
    'quality',
    'complexity',
    'background',
    'output_format',
    'output_compression',
    'input_fidelity',
    'stream',
    'partial_images',
    'user',
    'safety_identifier',
    'style',
    'response_format',
  ]),
};

/** The served model a request names, or the `model_not_found` error OpenAI answers. */
function resolveModel(params: Params, endpoint: Endpoint): ServedModel {
  const id = params.string('model') ?? OPENAI_DEFAULT_MODEL[endpoint];
  const served = servedModel(id);
  if (served) return served;
  throw modelNotFound(id, isRetiredModel(id) ? openaiSandboxSettings.retiredModelStatus : 404);
}

function parseSize(size: string): { width: number; height: number } {
  const [w, h] = size.split('x');
  return { width: Number(w), height: Number(h) };
}

/** The standard size whose aspect ratio is closest to the input's (what `auto` picks for edits). */
function closestStandardSize(width: number, height: number): string {
  const target = Math.log(width / height);
  let best: string = STANDARD_SIZES[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const size of STANDARD_SIZES) {
    const { width: w, height: h } = parseSize(size);
    const distance = Math.abs(Math.log(w / h) - target);
    if (distance < bestDistance) {
      best = size;
      bestDistance = distance;
    }
  }
  return best;
}

const grouped = (value: number): string => value.toLocaleString('en-US');

/**
 * `size`: `auto`, a standard size, or a custom `WIDTHxHEIGHT` with both sides multiples of 16, an aspect
 * ratio within 1:3..3:1 and at most 3840x2160 (long side ≤ 3840, short side ≤ 2160) (openai-node
 * images.ts @ 2026-08-21, stated for gpt-image-2); 2.5 and 2.6 also need 655,360–8,294,400 pixels in all
 * (third-party only: Comfy docs OpenAIGPTImageNodeV3, read 2026-12-02). Every rule applies to standard
 * sizes too; they pass them all.
 */
function resolveSize(
  params: Params,
  model: ServedModel,
  firstImage: { width: number; height: number } | undefined,
): { size: string; width: number; height: number } {
  const requested = params.string('size') ?? 'auto';
  if (requested === 'auto') {
    const size = firstImage ? closestStandardSize(firstImage.width, firstImage.height) : '1024x1024';
    return { size, ...parseSize(size) };
  }
  const match = /^([1-9]\d{0,5})x([1-9]\d{0,5})$/.exec(requested);
  if (!match) {
    throw invalid(
      `Invalid value: '${requested}'. Supported values are: 'auto', ${quoteList(STANDARD_SIZES)}, or a custom size 'WIDTHxHEIGHT'.`,
      'size',
      'invalid_value',
    );
  }
  const width = Number(match[1]);
  const height = Number(match[2]);
  const refuse = (why: string): OpenAiError =>
    invalid(`Invalid size '${requested}': ${why}`, 'size', 'invalid_value');
  if (width % SIZE_STEP !== 0 || height % SIZE_STEP !== 0) {
    throw refuse(`width and height must both be multiples of ${SIZE_STEP}.`);
  }
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (long > MAX_ASPECT_RATIO * short) {
    throw refuse(`the aspect ratio must be between 1:${MAX_ASPECT_RATIO} and ${MAX_ASPECT_RATIO}:1.`);
  }
  if (long > MAX_LONG_SIDE || short > MAX_SHORT_SIDE) {
    throw refuse(
      `the maximum supported resolution is ${MAX_LONG_SIDE}x${MAX_SHORT_SIDE} (long side at most ${MAX_LONG_SIDE}, short side at most ${MAX_SHORT_SIDE}).`,
    );
  }
  const bounds = FAMILY_RULES[model.family].pixels;
  if (bounds && (width * height < bounds.min || width * height > bounds.max)) {
    throw refuse(
      `${model.id} needs between ${grouped(bounds.min)} and ${grouped(bounds.max)} pixels in total, but ${requested} has ${grouped(width * height)}.`,
    );
  }
  return { size: `${width}x${height}`, width, height };
}

/**
 * Refuses fields the endpoint does not know (uploaded files included) and the DALL·E-only ones, which no
 * served model takes (openai-node images.ts @ 2026-08-21: `style` "is only supported for `dall-e-3`";
 * `response_format` "isn't supported for the GPT image models, which always return base64-encoded images").
 */
function checkFieldNames(params: Params, endpoint: Endpoint, model: ServedModel, fileFields: string[]): void {
  for (const name of [...params.names(), ...fileFields]) {
    if (!KNOWN_FIELDS[endpoint].has(name)) throw unknownParameter(name);
  }
  if (params.has('style')) {
    throw unknownParameter('style', ` This parameter is only supported for dall-e-3, not ${model.id}.`);
  }
  if (params.has('response_format')) {
    throw unknownParameter(
      'response_format',
      ` GPT image models always return base64-encoded images (data[].b64_json); ${model.id} does not take this parameter.`,
    );
  }
}

/** Validates everything but the uploaded files; `firstImage` is the first edit input's dimensions. */
function validateRequest(
  params: Params,
  endpoint: Endpoint,
  model: ServedModel,
  firstImage: { width: number; height: number } | undefined,
): Omit<Job, 'input' | 'inputDigest' | 'inputImages'> {
  const rules = FAMILY_RULES[model.family];
  const prompt = params.string('prompt');
  if (prompt === undefined) {
    throw invalid("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  }
  if (prompt.length === 0) {
    throw invalid(
      "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      'prompt',
      'empty_string',
    );
  }
  const promptLength = [...prompt].length;
  if (promptLength > PROMPT_LIMIT) {
    throw invalid(
      `Invalid 'prompt': string too long. Expected a string with maximum length ${PROMPT_LIMIT}, but got a string with length ${promptLength} instead.`,
      'prompt',
      'string_above_max_length',
    );
  }

  const n = params.integer('n', 1, MAX_N) ?? 1;
  params.string('user');
  params.string('safety_identifier');
  if (params.boolean('stream') === true) throw notSimulated('streaming (stream=true)', 'stream');
  params.integer('partial_images', 0, 3);
  // `moderation` is a generations field only (openai-node ImageEditParams @ 2026-08-21 has none).
  if (endpoint === 'generations') params.choice('moderation', ['low', 'auto']);

  const { size, width, height } = resolveSize(params, model, firstImage);

  // low/medium/high/auto: openai-node images.ts @ 2026-08-21. xhigh/max (2.5 and 2.6 only): third-party
  // only, apidog.com/blog/gpt-image-2-6-api (2026-11-05) and the Cloudflare gpt-image-2.5-sunburst model
  // page, read 2026-12-02. `standard`/`hd` were DALL·E's and are not in the list.
  const requestedQuality = params.choice('quality', [...rules.qualities, 'auto']) ?? 'auto';
  // `auto` lets the model choose; the simulator reports it as `high`, a value every family has.
  const quality: Quality = requestedQuality === 'auto' ? 'high' : requestedQuality;

  // "complexity" low/medium/high, high when omitted, GPT-Image-2.6 only: OpenAI image generation guide
  // (developers.openai.com/ko-KR/api/docs/guides/image-generation), read 2026-12-02.
  let complexity: Job['complexity'];
  if (params.has('complexity')) {
    if (!rules.complexity) {
      throw unknownParameter(
        'complexity',
        ` This parameter is only supported for the gpt-image-2.6 models, not ${model.id}.`,
      );
    }
    complexity = params.choice('complexity', ['low', 'medium', 'high']);
  } else if (rules.complexity) {
    complexity = 'high';
  }

  const requestedFormat = params.string('output_format') ?? 'png';
  // SVG is a 2.6 generations feature (OpenAI image generation guide, read 2026-12-02).
  if (rules.svg && endpoint === 'generations' && (requestedFormat === 'svg' || params.has('svg'))) {
    throw notSimulated('SVG output', requestedFormat === 'svg' ? 'output_format' : 'svg');
  }
  if (params.has('svg')) {
    throw unknownParameter('svg', ` This parameter is only supported for the gpt-image-2.6 models.`);
  }
  const outputFormat = rules.outputFormats.find((format) => format === requestedFormat);
  if (outputFormat === undefined) throw invalidValue('output_format', requestedFormat, rules.outputFormats);

  // "When using transparent, set the output format to png or webp" (openai-node images.ts @ 2026-08-21);
  // 2.6 also GIF, and the JPEG refusal's wording: docs.apiyi.com/en/faq/gpt-image-output-format-background
  // (measured 2026-11-12, third-party). Which `param` and `code` OpenAI names is unconfirmed.
  const background = params.choice('background', ['transparent', 'opaque', 'auto']) ?? 'auto';
  if (background === 'transparent' && !rules.transparentFormats.includes(outputFormat)) {
    throw invalid(
      outputFormat === 'jpeg'
        ? 'Transparent background is not supported for JPEG output format'
        : `Transparent background is not supported for ${outputFormat.toUpperCase()} output format. Use ${quoteList(rules.transparentFormats)}.`,
      'background',
      'invalid_value',
    );
  }

  // "only supported … with the webp or jpeg output formats, and defaults to 100".
  const compression = params.integer('output_compression', 0, 100);
  if (compression !== undefined && compression < 100 && outputFormat !== 'jpeg' && outputFormat !== 'webp') {
    throw invalid(
      `Compression less than 100 is not supported for ${outputFormat.toUpperCase()} output format.`,
      'output_compression',
      'invalid_value',
    );
  }
  const inputFidelity = endpoint === 'edits' ? params.choice('input_fidelity', ['high', 'low']) : undefined;

  return {
    endpoint,
    model,
    prompt,
    n,
    width,
    height,
    size,
    quality,
    complexity,
    background: background === 'transparent' ? 'transparent' : 'opaque',
    outputFormat,
    compression: compression ?? 100,
    inputFidelity: inputFidelity ?? 'low',
  };
}

// ---- uploaded files ----

type Sniffed = 'image/png' | 'image/jpeg' | 'image/webp';
const INPUT_TYPES: readonly Sniffed[] = ['image/png', 'image/jpeg', 'image/webp'];

/** The real format from the file's magic bytes; a declared MIME type alone proves nothing. */
function sniff(bytes: Buffer): Sniffed | undefined {
  if (
    bytes.length >= 8 &&
    bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  )
    return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  )
    return 'image/webp';
  return undefined;
}

/** Whether a PNG carries alpha (colour type with alpha, or a tRNS chunk), which a mask needs. */
function pngHasAlpha(bytes: Buffer): boolean {
  const colourType = bytes[25];
  if (colourType === 4 || colourType === 6) return true;
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (type === 'tRNS') return true;
    if (type === 'IDAT' || type === 'IEND') return false;
    offset += 12 + length;
  }
  return false;
}

interface Upload {
  bytes: Buffer;
  type: Sniffed;
  width: number;
  height: number;
  /** The image as PNG or JPEG, which the drawing code can blend in; unset for large uploads. */
  drawable: Buffer | undefined;
}

const FORMATS: Record<Sniffed, 'png' | 'jpeg' | 'webp'> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
};

/**
 * Dimensions of an upload and a form `drawImage` can read. The size comes from the header and is
 * checked before any decode; only uploads up to BLEND_MAX_PIXELS are decoded. Undefined when the
 * header has no size or the image does not decode.
 */
async function decodeUpload(
  bytes: Buffer,
  type: Sniffed,
  field: string,
): Promise<{ width: number; height: number; drawable: Buffer | undefined } | undefined> {
  const size = readImageSize(bytes, FORMATS[type]);
  if (!size || !(size.width > 0) || !(size.height > 0)) return undefined;
  const pixels = size.width * size.height;
  if (pixels > MAX_INPUT_PIXELS) {
    throw invalid(
      `Invalid image file '${field}': the image is ${size.width}x${size.height} (${pixels} pixels); the sandbox takes images of at most ${MAX_INPUT_PIXELS} pixels.`,
      field,
      'image_too_large',
    );
  }
  if (pixels > BLEND_MAX_PIXELS) return { ...size, drawable: undefined };
  try {
    const decoded = await decodeImage(bytes, { maxPixels: BLEND_MAX_PIXELS });
    const drawable = type === 'image/webp' ? await encodeImage(decoded, 'png') : bytes;
    return { width: decoded.width, height: decoded.height, drawable };
  } catch {
    return undefined;
  }
}

async function readUpload(
  file: File,
  field: string,
  allowed: readonly Sniffed[],
  maxBytes: number,
): Promise<Upload> {
  // Multipart parts without a Content-Type reach OpenAI as application/octet-stream, which it refuses.
  const declared =
    file.type === '' ? 'application/octet-stream' : (file.type.split(';')[0] ?? '').trim().toLowerCase();
  const supported = quoteList([...allowed].sort());
  if (!allowed.some((type) => type === declared)) {
    throw invalid(
      `Invalid file '${field}': unsupported mimetype ('${declared}'). Supported file formats are ${supported}.`,
      field,
      'unsupported_file_mimetype',
    );
  }
  if (file.size >= maxBytes) {
    throw invalid(
      `Invalid file '${field}': the file is ${file.size} bytes; it must be less than ${maxBytes / MB} MB.`,
      field,
      'file_too_large',
    );
  }
  const bytes = Buffer.from(await file.arrayBuffer());
  const real = sniff(bytes);
  if (real === undefined || !allowed.includes(real)) {
    throw invalid(
      `Invalid image file or mode for '${field}' ('${file.name}'): its content is not a ${supported} image, please check your image file.`,
      field,
      'invalid_image_file',
    );
  }
  // Stricter than OpenAI on purpose: a label that lies about the bytes is a client bug worth surfacing.
  if (real !== declared) {
    throw invalid(
      `Invalid file '${field}': uploaded as '${declared}' but its content is '${real}'. Send the file's true mimetype.`,
      field,
      'mimetype_mismatch',
    );
  }
  const decoded = await decodeUpload(bytes, real, field);
  if (!decoded || decoded.width <= 0 || decoded.height <= 0) {
    throw invalid(
      `Invalid image file or mode for '${field}' ('${file.name}'), please check your image file.`,
      field,
      'invalid_image_file',
    );
  }
  return { bytes, type: real, ...decoded };
}

/**
 * `image` / `image[]`: up to 16 png, webp or jpg files, each less than 50 MB; `mask`: one PNG with alpha,
 * less than 4 MB, the size of the first image (openai-node images.ts @ 2026-08-21).
 */
async function readEditFiles(
  files: Map<string, File[]>,
  params: Params,
): Promise<{ images: Upload[]; mask: Upload | undefined }> {
  for (const name of ['image', 'image[]', 'mask']) {
    if (params.has(name))
      throw invalidType(name, name === 'mask' ? 'a file' : 'one of an array of files or file', '');
  }
  const fileList = [...(files.get('image') ?? []), ...(files.get('image[]') ?? [])];
  const field = files.has('image[]') && !files.has('image') ? 'image[]' : 'image';
  if (fileList.length === 0) {
    throw invalid("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
  }
  if (fileList.length > MAX_INPUT_IMAGES) {
    throw invalid(
      `Invalid '${field}': array too long. Expected an array with maximum length ${MAX_INPUT_IMAGES}, but got an array with length ${fileList.length} instead.`,
      field,
      'array_above_max_length',
    );
  }
  const images: Upload[] = [];
  for (const file of fileList) images.push(await readUpload(file, field, INPUT_TYPES, IMAGE_MAX_BYTES));
  const first = images[0];
  if (!first) throw invalid("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');

  const masks = files.get('mask') ?? [];
  if (masks.length > 1) throw invalid('Only one mask may be given.', 'mask', 'invalid_value');
  const maskFile = masks[0];
  if (!maskFile) return { images, mask: undefined };
  const mask = await readUpload(maskFile, 'mask', ['image/png'], MASK_MAX_BYTES);
  if (!pngHasAlpha(mask.bytes)) {
    throw invalid(
      'Invalid mask image format - mask image missing alpha channel.',
      'mask',
      'invalid_image_format',
    );
  }
  if (mask.width !== first.width || mask.height !== first.height) {
    throw invalid(
      `Invalid mask image: the mask is ${mask.width}x${mask.height} but the image is ${first.width}x${first.height}; they must have the same dimensions.`,
      'mask',
      'invalid_image_format',
    );
  }
  return { images, mask };
}

async function buildJob(endpoint: Endpoint, params: Params, files: Map<string, File[]>): Promise<Job> {
  const model = resolveModel(params, endpoint);
  checkFieldNames(params, endpoint, model, [...files.keys()]);
  if (endpoint === 'generations') {
    return {
      ...validateRequest(params, endpoint, model, undefined),
      input: undefined,
      inputDigest: '',
      inputImages: 0,
    };
  }
  // Files are read before the other fields because `size: auto` follows the first image.
  const { images, mask } = await readEditFiles(files, params);
  const first = images[0];
  const job = validateRequest(params, endpoint, model, first);
  const digest = createHash('sha256');
  for (const upload of [...images, ...(mask ? [mask] : [])]) digest.update(upload.bytes);
  return {
    ...job,
    input: first?.drawable,
    inputDigest: digest.digest('hex'),
    inputImages: images.length,
  };
}

// ---- results ----

async function render(job: Job, index: number): Promise<Buffer> {
  const seed = [
    'openai',
    job.endpoint,
    job.model.id,
    job.size,
    job.quality,
    job.complexity ?? '',
    job.background,
    String(index),
    job.inputDigest,
    job.prompt,
  ].join('|');
  const options = {
    seed,
    width: job.width,
    height: job.height,
    input: job.input,
    transparent: job.background === 'transparent',
  };
  const quality = Math.max(1, job.compression);
  // Painted and encoded on a draw thread, off the host's event loop (draw-pool.ts).
  switch (job.outputFormat) {
    case 'webp':
      return drawEncoded(options, { as: 'codec', format: 'webp', quality });
    case 'gif':
      return drawEncoded(options, { as: 'gif', transparent: options.transparent });
    default:
      return drawEncoded(options, { as: 'jimp', format: job.outputFormat, quality });
  }
}

/** Output tokens per image of 1024x1024, by quality; other sizes scale with their pixel count. */
const TOKENS_PER_MEGAPIXEL: Record<Quality, number> = {
  low: 272,
  medium: 1056,
  high: 4160,
  xhigh: 6240,
  max: 8320,
};

/** Approximate token accounting in the shape OpenAI reports for GPT image models. */
function usage(job: Job): Record<string, unknown> {
  const perImage = Math.max(
    1,
    Math.round((TOKENS_PER_MEGAPIXEL[job.quality] * job.width * job.height) / (1024 * 1024)),
  );
  const imageTokens = perImage * job.n;
  const textTokens = Math.ceil(job.prompt.length / 4);
  const inputImageTokens = job.inputImages * (job.inputFidelity === 'high' ? 4160 : 323);
  const inputTokens = textTokens + inputImageTokens;
  return {
    total_tokens: inputTokens + imageTokens,
    input_tokens: inputTokens,
    output_tokens: imageTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: inputImageTokens },
    output_tokens_details: { image_tokens: imageTokens, text_tokens: 0 },
  };
}

async function succeed(job: Job): Promise<Record<string, unknown>> {
  const data: { b64_json: string }[] = [];
  for (let index = 0; index < job.n; index++) {
    data.push({ b64_json: (await render(job, index)).toString('base64') });
  }
  return {
    created: Math.floor(Date.now() / 1000),
    background: job.background,
    data,
    output_format: job.outputFormat,
    quality: job.quality,
    size: job.size,
    usage: usage(job),
  };
}

// ---- faults ----

function maskKey(key: string): string {
  if (key.length <= 8) return `${key.slice(0, 2)}***`;
  return `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

/** The model a request names (or would default to), for fault bodies that quote it. */
function modelHint(raw: Record<string, unknown>, endpoint: Endpoint): string {
  const model = raw.model;
  if (typeof model === 'string' && model.length > 0) return model;
  return OPENAI_DEFAULT_MODEL[endpoint];
}

function statusFault(status: number, model: string, apiKey: string): OpenAiError {
  const body = (type: string, message: string, code: string | null = null): ErrorBody => ({
    message,
    type,
    param: null,
    code,
  });
  switch (status) {
    case 400:
      return new OpenAiError(
        400,
        body('invalid_request_error', 'Invalid request. Please check your parameters.'),
      );
    case 401:
      return new OpenAiError(
        401,
        body(
          'invalid_request_error',
          `Incorrect API key provided: ${maskKey(apiKey)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_api_key',
        ),
      );
    case 403:
      return new OpenAiError(
        403,
        body(
          'invalid_request_error',
          `Your organization must be verified to use the model \`${model}\`. Please go to: https://platform.openai.com/settings/organization/general and click on Verify Organization. If you just verified, it can take up to 15 minutes for access to propagate.`,
        ),
      );
    case 404:
      return modelNotFound(model, 404);
    case 429:
      return new OpenAiError(
        429,
        body(
          'requests',
          `Rate limit reached for ${model} in organization org-sandbox on images per minute (IPM): Limit 5, Used 5, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
          'rate_limit_exceeded',
        ),
        { 'retry-after': '1', 'x-ratelimit-remaining-requests': '0' },
      );
    case 500:
      return new OpenAiError(
        500,
        body('server_error', 'The server had an error while processing your request. Sorry about that!'),
      );
    case 502:
      return new OpenAiError(502, body('server_error', 'Bad gateway.'));
    case 503:
      return new OpenAiError(
        503,
        body('server_error', 'The engine is currently overloaded, please try again later.'),
      );
    default:
      return status >= 500
        ? new OpenAiError(
            status,
            body('server_error', 'The server had an error while processing your request. Sorry about that!'),
          )
        : new OpenAiError(status, body('invalid_request_error', `The request failed with status ${status}.`));
  }
}

function outcomeFault(outcome: string, model: string, apiKey: string): OpenAiError | undefined {
  switch (outcome) {
    case 'insufficient_quota':
      return new OpenAiError(429, {
        message:
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      });
    case 'organization_not_verified':
      return statusFault(403, model, apiKey);
    case 'model_shut_down':
      return modelNotFound(model, openaiSandboxSettings.retiredModelStatus);
    case 'model_shut_down_400':
      return modelNotFound(model, 400);
    default:
      return undefined;
  }
}

function moderationError(requestId: string): OpenAiError {
  return new OpenAiError(400, {
    message: `Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID ${requestId}.`,
    type: 'image_generation_user_error',
    param: null,
    code: 'moderation_blocked',
  });
}

// ---- response headers ----

const RATE_LIMIT_REQUESTS = 500;
const RATE_WINDOW_MS = 60_000;
const recentRequests: number[] = [];

/** A sliding one-minute window, so clients reading `x-ratelimit-*` see plausible, moving numbers. */
function rateLimitHeaders(now: number): Record<string, string> {
  while ((recentRequests[0] ?? now) <= now - RATE_WINDOW_MS) recentRequests.shift();
  recentRequests.push(now);
  const oldest = recentRequests[0] ?? now;
  const resetMs = Math.max(1, oldest + RATE_WINDOW_MS - now);
  return {
    'x-ratelimit-limit-requests': String(RATE_LIMIT_REQUESTS),
    'x-ratelimit-remaining-requests': String(Math.max(0, RATE_LIMIT_REQUESTS - recentRequests.length)),
    'x-ratelimit-reset-requests': resetMs < 1000 ? `${resetMs}ms` : `${(resetMs / 1000).toFixed(3)}s`,
  };
}

function withHeaders(response: Response, headers: Record<string, string>, started: number): Response {
  for (const [name, value] of Object.entries(headers)) {
    if (!response.headers.has(name)) response.headers.set(name, value);
  }
  response.headers.set('openai-processing-ms', String(Math.max(0, Math.round(performance.now() - started))));
  return response;
}

function errorResponse(error: OpenAiError): Response {
  return jsonResponse(error.status, { error: error.body }, error.headers);
}

function invalidUrl(method: string, pathname: string): OpenAiError {
  return new OpenAiError(404, {
    message: `Invalid URL (${method} ${pathname})`,
    type: 'invalid_request_error',
    param: null,
    code: null,
  });
}

function wrongMethod(method: string, pathname: string, allow: string): OpenAiError {
  return new OpenAiError(
    405,
    {
      message: `Invalid method for URL (${method} ${pathname})`,
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
    { allow },
  );
}

// ---- routes ----

const IMAGE_ROUTES: Record<string, Endpoint> = {
  '/v1/images/generations': 'generations',
  '/v1/images/edits': 'edits',
};

function bearerKey(request: Request): string | undefined {
  const match = /^Bearer\s+(\S.*)$/i.exec(request.headers.get('authorization') ?? '');
  const key = match?.[1]?.trim();
  return key === undefined || key.length === 0 ? undefined : key;
}

const MISSING_KEY: ErrorBody = {
  message:
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (i.e. YOUR_KEY as the username and an empty string as the password). You can obtain an API key from https://platform.openai.com/account/api-keys.",
  type: 'invalid_request_error',
  param: null,
  code: null,
};

/**
 * OpenAI's model object (openai-node src/resources/models.ts @ 2026-08-21): `{id, object, created,
 * owned_by}` plus `shutdown_date`, "the date when the model will shut down, or null if not announced"
 * (also on the OpenAI deprecations page, read 2026-12-02). No served image model has an announced date.
 */
function modelObject(model: ServedModel): Record<string, unknown> {
  return { id: model.id, object: 'model', created: model.created, owned_by: 'system', shutdown_date: null };
}

/** `GET /v1/models` and `GET /v1/models/{id}`: the served image models only; anything else is not found. */
function serveModels(request: Request, pathname: string): Response {
  if (bearerKey(request) === undefined) return jsonResponse(401, { error: MISSING_KEY });
  if (request.method !== 'GET') return errorResponse(wrongMethod(request.method, pathname, 'GET'));
  if (pathname === '/v1/models') {
    return jsonResponse(200, { object: 'list', data: OPENAI_SERVED_MODELS.map(modelObject) });
  }
  let id: string;
  try {
    id = decodeURIComponent(pathname.slice('/v1/models/'.length));
  } catch {
    return errorResponse(invalidUrl(request.method, pathname));
  }
  const served = servedModel(id);
  return served ? jsonResponse(200, modelObject(served)) : errorResponse(modelNotFound(id, 404));
}

async function readRecorded(
  request: Request,
  pathname: string,
): Promise<
  | { ok: true; recorded: RecordedRequest; files: Map<string, File[]>; jsonError?: string }
  | { ok: false; recorded: RecordedRequest }
> {
  try {
    const read = await readRequest(request, pathname);
    return { ok: true, ...read };
  } catch {
    // A body that cannot be parsed (e.g. a broken multipart boundary) is still worth recording.
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return {
      ok: false,
      recorded: {
        method: request.method,
        path: pathname,
        headers,
        fields: {},
        files: {},
        contentType: request.headers.get('content-type') ?? '',
      },
    };
  }
}

async function serveImages(
  request: Request,
  endpoint: Endpoint,
  read: { recorded: RecordedRequest; files: Map<string, File[]>; jsonError?: string } | undefined,
  context: SandboxContext,
  requestId: string,
): Promise<Response> {
  const apiKey = bearerKey(request);
  if (apiKey === undefined) return jsonResponse(401, { error: MISSING_KEY });

  // Faults apply to every authenticated images request, whatever its body.
  const fault: Fault | undefined = context.takeFault();
  if (fault?.timeout) return context.hang(request);
  const hint = modelHint(read?.recorded.fields ?? {}, endpoint);
  if (fault?.status !== undefined) return errorResponse(statusFault(fault.status, hint, apiKey));
  if (fault?.outcome !== undefined) {
    const error = outcomeFault(fault.outcome, hint, apiKey);
    if (error) return errorResponse(error);
  }

  const multipart = (read?.recorded.contentType ?? '').startsWith('multipart/form-data');
  if (!read) {
    return errorResponse(invalid('Could not parse the multipart/form-data body of your request.', null));
  }
  if (endpoint === 'generations' && (read.jsonError !== undefined || multipart)) {
    return errorResponse(
      invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
        null,
      ),
    );
  }
  if (endpoint === 'edits' && !multipart) {
    return errorResponse(
      invalid(
        `Invalid Content-Type header (${read.recorded.contentType || 'none'}): the OpenAI sandbox simulates image edits as multipart/form-data, with the image in a file field named 'image' or 'image[]'.`,
        null,
      ),
    );
  }

  let job: Job;
  try {
    job = await buildJob(endpoint, new Params(read.recorded.fields, multipart), read.files);
  } catch (error) {
    if (error instanceof OpenAiError) return errorResponse(error);
    throw error;
  }
  // Moderation judges a valid request, so it comes after validation.
  if (fault?.moderated) return errorResponse(moderationError(requestId));
  return jsonResponse(200, await succeed(job));
}

export const openaiSimulator: SandboxSimulator = {
  provider: 'openai',

  async handle(request: Request, path: string, context: SandboxContext): Promise<Response> {
    const started = performance.now();
    const requestId = `req_${randomBytes(16).toString('hex')}`;
    const headers = {
      'x-request-id': requestId,
      'openai-version': '2020-10-01',
      ...rateLimitHeaders(Date.now()),
    };
    const pathname = path.split('?')[0] ?? path;
    const read = await readRecorded(request, pathname);
    context.record(read.recorded);

    if (pathname === '/v1/models' || /^\/v1\/models\/[^/]+$/.test(pathname)) {
      return withHeaders(serveModels(request, pathname), headers, started);
    }
    const endpoint = IMAGE_ROUTES[pathname];
    if (endpoint === undefined) {
      return withHeaders(errorResponse(invalidUrl(request.method, pathname)), headers, started);
    }
    if (request.method !== 'POST') {
      return withHeaders(errorResponse(wrongMethod(request.method, pathname, 'POST')), headers, started);
    }
    const response = await serveImages(request, endpoint, read.ok ? read : undefined, context, requestId);
    return withHeaders(response, headers, started);
  },
};

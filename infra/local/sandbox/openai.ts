/**
 * Sandbox simulator of the OpenAI Images API (`POST /v1/images/generations`, `POST /v1/images/edits`),
 * written from OpenAI's API reference and SDK documentation (provider-contracts §2, §10.1), never from
 * our adapter: if both shared a misreading, the tests would agree with it.
 *
 * It validates requests the way OpenAI does (same error envelope, `param` and `code`), answers with real
 * images of the requested size drawn from the request, and honours scripted faults (api-contract §7):
 * `status` (OpenAI's own body for that status), `timeout`, `moderated`, and the outcomes
 * `insufficient_quota` (429 billing error that must not be retried) and `organization_not_verified` (403).
 *
 * DALL·E `response_format: "url"` answers with URLs served by this simulator under `/files/<id>.png`,
 * valid for 60 minutes like OpenAI's; an expired one answers 403 like the Azure blob store behind them.
 * WebP (input and `output_format: "webp"`) goes through the project's image codecs, so a webp answer
 * is real WebP, never PNG bytes under a webp label.
 *
 * Deliberately stricter than OpenAI in one place: an upload whose declared MIME type disagrees with its
 * bytes is refused (`mimetype_mismatch`), to surface the mislabelling bug of provider-contracts §8.2.
 * Not simulated: streaming (`stream: true` answers 400) and the retired `/v1/images/variations`.
 */
import { createHash, randomBytes } from 'node:crypto';
// The project's codecs, not the provider adapter: jimp can neither read nor write WebP.
import { decodeImage, encodeImage } from '../../../functions/core/images/codecs.ts';
import { drawImage, drawPicture, imageSize } from './draw.ts';
import {
  type Fault,
  jsonResponse,
  type RecordedRequest,
  readRequest,
  type SandboxContext,
  type SandboxSimulator,
} from './sandbox.ts';

// ---- models and their limits ----

const GPT_IMAGE_MODELS = ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5'] as const;
type GptImageModel = (typeof GPT_IMAGE_MODELS)[number];
type Model = GptImageModel | 'dall-e-2' | 'dall-e-3';
const GENERATION_MODELS: readonly Model[] = ['dall-e-2', 'dall-e-3', ...GPT_IMAGE_MODELS];
/** DALL·E 3 has no edit endpoint. */
const EDIT_MODELS: readonly Model[] = ['dall-e-2', ...GPT_IMAGE_MODELS];

const PROMPT_LIMIT: Record<Model, number> = {
  'dall-e-2': 1000,
  'dall-e-3': 4000,
  'gpt-image-1': 32000,
  'gpt-image-1-mini': 32000,
  'gpt-image-1.5': 32000,
};

const DALL_E_2_SIZES = ['256x256', '512x512', '1024x1024'] as const;
const DALL_E_3_SIZES = ['1024x1024', '1792x1024', '1024x1792'] as const;
const GPT_SIZES = ['1024x1024', '1536x1024', '1024x1536', 'auto'] as const;
/** Concrete sizes `auto` may resolve to for GPT image models. */
const GPT_CONCRETE_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;

const MB = 1024 * 1024;
const GPT_IMAGE_MAX_BYTES = 50 * MB;
const DALL_E_2_IMAGE_MAX_BYTES = 4 * MB;
const MASK_MAX_BYTES = 4 * MB;
const MAX_INPUT_IMAGES = 16;
/** OpenAI keeps DALL·E result URLs valid for 60 minutes. */
const URL_LIFETIME_MS = 60 * 60 * 1000;
const MAX_STORED_FILES = 200;

function isGptImage(model: Model): model is GptImageModel {
  return (GPT_IMAGE_MODELS as readonly string[]).includes(model);
}

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
    if (match === undefined) {
      throw invalid(
        `Invalid value: '${value}'. Supported values are: ${quoteList(allowed)}.`,
        name,
        'invalid_value',
      );
    }
    return match;
  }
}

// ---- the validated request ----

type Endpoint = 'generations' | 'edits';
type OutputFormat = 'png' | 'jpeg' | 'webp';

interface Job {
  endpoint: Endpoint;
  model: Model;
  prompt: string;
  n: number;
  width: number;
  height: number;
  /** The size answered back, `auto` resolved. */
  size: string;
  /** The quality answered back (GPT image: `auto`/`standard` resolved). */
  quality: string;
  style: string | undefined;
  responseFormat: 'url' | 'b64_json';
  background: 'transparent' | 'opaque';
  outputFormat: OutputFormat;
  compression: number;
  /** First input image (as PNG or JPEG), blended into the result. */
  input: Buffer | undefined;
  /** Hash of every uploaded file, so any change of input changes the picture. */
  inputDigest: string;
  inputImages: number;
  inputFidelity: 'high' | 'low';
}

const KNOWN_FIELDS: Record<Endpoint, ReadonlySet<string>> = {
  generations: new Set([
    'prompt',
    'model',
    'n',
    'size',
    'quality',
    'style',
    'response_format',
    'background',
    'output_format',
    'output_compression',
    'moderation',
    'stream',
    'partial_images',
    'user',
    'safety_identifier',
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
    'response_format',
    'background',
    'output_format',
    'output_compression',
    'input_fidelity',
    'stream',
    'partial_images',
    'user',
    'safety_identifier',
  ]),
};

/** Parameters the documentation marks "only supported for the GPT image models". */
const GPT_ONLY_FIELDS = [
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'partial_images',
  'input_fidelity',
] as const;

function resolveModel(params: Params, endpoint: Endpoint): Model {
  const given = params.string('model');
  if (given === undefined) {
    // Generations: "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used".
    // Edits: the current SDK documentation names gpt-image-1.5 as the edit default (provider-contracts §2.2).
    if (endpoint === 'edits') return 'gpt-image-1.5';
    const gptOnly = GPT_ONLY_FIELDS.some((name) => params.has(name)) || params.boolean('stream') === true;
    return gptOnly ? 'gpt-image-1' : 'dall-e-2';
  }
  const allowed = endpoint === 'edits' ? EDIT_MODELS : GENERATION_MODELS;
  const match = allowed.find((model) => model === given);
  if (match === undefined) {
    throw invalid(
      `Invalid value: '${given}'. Supported values are: ${quoteList(allowed)}.`,
      'model',
      'invalid_value',
    );
  }
  return match;
}

function parseSize(size: string): { width: number; height: number } {
  const [w, h] = size.split('x');
  return { width: Number(w), height: Number(h) };
}

/** The supported GPT size whose aspect ratio is closest to the input's (what `auto` picks for edits). */
function closestGptSize(width: number, height: number): string {
  const target = Math.log(width / height);
  let best: string = GPT_CONCRETE_SIZES[0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const size of GPT_CONCRETE_SIZES) {
    const { width: w, height: h } = parseSize(size);
    const distance = Math.abs(Math.log(w / h) - target);
    if (distance < bestDistance) {
      best = size;
      bestDistance = distance;
    }
  }
  return best;
}

/** Validates everything but the uploaded files; `firstImage` is the first edit input's dimensions. */
function validateCommon(
  params: Params,
  endpoint: Endpoint,
  firstImage: { width: number; height: number } | undefined,
): Omit<Job, 'input' | 'inputDigest' | 'inputImages'> {
  for (const name of params.names()) {
    if (!KNOWN_FIELDS[endpoint].has(name)) throw unknownParameter(name);
  }
  const model = resolveModel(params, endpoint);
  const gpt = isGptImage(model);

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
  const limit = PROMPT_LIMIT[model];
  if (promptLength > limit) {
    throw invalid(
      `Invalid 'prompt': string too long. Expected a string with maximum length ${limit}, but got a string with length ${promptLength} instead.`,
      'prompt',
      'string_above_max_length',
    );
  }

  const n = params.integer('n', 1, 10) ?? 1;
  if (model === 'dall-e-3' && n !== 1) {
    throw invalid('You must provide n=1 for this model.', 'n', 'invalid_value');
  }

  params.string('user');
  params.string('safety_identifier');
  const stream = params.boolean('stream');

  if (!gpt) {
    for (const name of GPT_ONLY_FIELDS) {
      if (params.has(name)) {
        throw unknownParameter(
          name,
          ` This parameter is only supported for the GPT image models, not ${model}.`,
        );
      }
    }
    if (stream === true) {
      throw unknownParameter(
        'stream',
        ` Streaming is only supported for the GPT image models, not ${model}.`,
      );
    }
    if (model !== 'dall-e-3' && params.has('style')) {
      throw unknownParameter('style', ' This parameter is only supported for dall-e-3.');
    }
    const sizes = model === 'dall-e-3' ? DALL_E_3_SIZES : DALL_E_2_SIZES;
    const size = params.choice('size', sizes) ?? '1024x1024';
    const qualities = model === 'dall-e-3' ? (['standard', 'hd'] as const) : (['standard'] as const);
    const quality = params.choice('quality', qualities) ?? 'standard';
    const style =
      model === 'dall-e-3' ? (params.choice('style', ['vivid', 'natural']) ?? 'vivid') : undefined;
    const responseFormat = params.choice('response_format', ['url', 'b64_json']) ?? 'url';
    return {
      endpoint,
      model,
      prompt,
      n,
      ...parseSize(size),
      size,
      quality,
      style,
      responseFormat,
      background: 'opaque',
      outputFormat: 'png',
      compression: 100,
      inputFidelity: 'low',
    };
  }

  // GPT image models always answer base64 and have no style.
  if (params.has('response_format')) throw unknownParameter('response_format');
  if (params.has('style')) throw unknownParameter('style');
  if (stream === true) {
    throw invalid(
      'The OpenAI sandbox does not simulate streaming (stream=true); ask without streaming.',
      'stream',
      'unsupported_in_sandbox',
    );
  }
  params.integer('partial_images', 0, 3);
  if (endpoint === 'generations') params.choice('moderation', ['low', 'auto']);

  const requestedSize = params.choice('size', GPT_SIZES) ?? 'auto';
  let size: string = requestedSize;
  if (requestedSize === 'auto')
    size = firstImage ? closestGptSize(firstImage.width, firstImage.height) : '1024x1024';

  const qualities =
    endpoint === 'edits'
      ? (['standard', 'low', 'medium', 'high', 'auto'] as const)
      : (['low', 'medium', 'high', 'auto'] as const);
  const requestedQuality = params.choice('quality', qualities) ?? 'auto';
  const quality =
    requestedQuality === 'auto' ? 'high' : requestedQuality === 'standard' ? 'medium' : requestedQuality;

  const outputFormat = params.choice('output_format', ['png', 'jpeg', 'webp']) ?? 'png';
  const background = params.choice('background', ['transparent', 'opaque', 'auto']) ?? 'auto';
  if (background === 'transparent' && outputFormat === 'jpeg') {
    throw invalid(
      "Transparent background is not supported with output_format 'jpeg'. Use 'png' or 'webp'.",
      'background',
      'invalid_value',
    );
  }
  const compression = params.integer('output_compression', 0, 100);
  if (compression !== undefined && compression < 100 && outputFormat === 'png') {
    throw invalid(
      'Compression less than 100 is not supported for PNG output format.',
      'output_compression',
      'invalid_value',
    );
  }
  const inputFidelity = endpoint === 'edits' ? params.choice('input_fidelity', ['high', 'low']) : undefined;
  if (inputFidelity !== undefined && model === 'gpt-image-1-mini') {
    throw invalid(`input_fidelity is not supported for ${model}.`, 'input_fidelity', 'invalid_value');
  }
  return {
    endpoint,
    model,
    prompt,
    n,
    ...parseSize(size),
    size,
    quality,
    style: undefined,
    responseFormat: 'b64_json',
    background: background === 'transparent' ? 'transparent' : 'opaque',
    outputFormat,
    compression: compression ?? 100,
    inputFidelity: inputFidelity ?? 'low',
  };
}

// ---- uploaded files ----

type Sniffed = 'image/png' | 'image/jpeg' | 'image/webp';

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
  /** The image as PNG or JPEG, which the drawing code can blend in. */
  drawable: Buffer;
}

/** Dimensions of an upload and a form `drawImage` can read, or undefined when it does not decode. */
async function decodeUpload(
  bytes: Buffer,
  type: Sniffed,
): Promise<{ width: number; height: number; drawable: Buffer } | undefined> {
  if (type !== 'image/webp') {
    const size = await imageSize(bytes);
    return size && { ...size, drawable: bytes };
  }
  try {
    const decoded = await decodeImage(bytes);
    const drawable = await encodeImage(decoded, 'png');
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
  // Stricter than strictly necessary on purpose: a label that lies about the bytes is a client bug
  // (provider-contracts §8.2) the sandbox should surface rather than paper over.
  if (real !== declared) {
    throw invalid(
      `Invalid file '${field}': uploaded as '${declared}' but its content is '${real}'. Send the file's true mimetype.`,
      field,
      'mimetype_mismatch',
    );
  }
  const decoded = await decodeUpload(bytes, real);
  if (!decoded || decoded.width <= 0 || decoded.height <= 0) {
    throw invalid(
      `Invalid image file or mode for '${field}' ('${file.name}'), please check your image file.`,
      field,
      'invalid_image_file',
    );
  }
  return { bytes, type: real, ...decoded };
}

async function readEditFiles(
  files: Map<string, File[]>,
  params: Params,
  model: Model,
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
  const gpt = isGptImage(model);
  if (!gpt && fileList.length > 1) {
    throw invalid(
      `${model} accepts exactly one image to edit, but got ${fileList.length}.`,
      field,
      'invalid_value',
    );
  }
  if (fileList.length > MAX_INPUT_IMAGES) {
    throw invalid(
      `Invalid '${field}': array too long. Expected an array with maximum length ${MAX_INPUT_IMAGES}, but got an array with length ${fileList.length} instead.`,
      field,
      'array_above_max_length',
    );
  }
  const allowed: readonly Sniffed[] = gpt ? ['image/png', 'image/jpeg', 'image/webp'] : ['image/png'];
  const images: Upload[] = [];
  for (const file of fileList) {
    images.push(await readUpload(file, field, allowed, gpt ? GPT_IMAGE_MAX_BYTES : DALL_E_2_IMAGE_MAX_BYTES));
  }
  const first = images[0];
  if (!first) throw invalid("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
  if (!gpt && first.width !== first.height) {
    throw invalid(
      `Invalid input image - image must be square, but it is ${first.width}x${first.height}.`,
      field,
      'invalid_image',
    );
  }

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
  if (endpoint === 'generations') {
    return {
      ...validateCommon(params, endpoint, undefined),
      input: undefined,
      inputDigest: '',
      inputImages: 0,
    };
  }
  // Files are checked after the model (their rules depend on it) but before the size (`auto` follows them).
  for (const name of params.names()) {
    if (!KNOWN_FIELDS.edits.has(name)) throw unknownParameter(name);
  }
  for (const name of files.keys()) {
    if (!KNOWN_FIELDS.edits.has(name)) throw unknownParameter(name);
  }
  const model = resolveModel(params, endpoint);
  const { images, mask } = await readEditFiles(files, params, model);
  const first = images[0];
  const job = validateCommon(params, endpoint, first);
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
    job.model,
    job.size,
    job.quality,
    job.style ?? '',
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
  if (job.outputFormat === 'webp') {
    const picture = await drawPicture(options);
    return encodeImage(picture.bitmap, 'webp', { quality: Math.max(1, job.compression) });
  }
  return drawImage({ ...options, format: job.outputFormat, quality: Math.max(1, job.compression) });
}

/** Approximate token accounting in the shape OpenAI reports for GPT image models. */
function usage(job: Job): Record<string, unknown> {
  const perImage: Record<string, [number, number]> = {
    low: [272, 408],
    medium: [1056, 1584],
    high: [4160, 6240],
  };
  const [square, oblong] = perImage[job.quality] ?? [1056, 1584];
  const imageTokens = (job.width === job.height ? square : oblong) * job.n;
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

/** DALL·E 3 rewrites prompts; a deterministic stand-in keeps `revised_prompt` present and traceable. */
function revisePrompt(job: Job): string {
  return `${job.prompt.trim()} — rendered as a ${job.style ?? 'vivid'}, detailed ${job.size} image.`;
}

const storedFiles = new Map<string, { bytes: Buffer; expiresAt: number }>();

function storeFile(bytes: Buffer, baseUrl: string): string {
  const id = `img-${randomBytes(12).toString('hex')}`;
  const expiresAt = Date.now() + URL_LIFETIME_MS;
  storedFiles.set(id, { bytes, expiresAt });
  // Bounded so a long `npm start` session does not keep every picture ever drawn.
  while (storedFiles.size > MAX_STORED_FILES) {
    const oldest = storedFiles.keys().next().value;
    if (oldest === undefined) break;
    storedFiles.delete(oldest);
  }
  const expiry = encodeURIComponent(new Date(expiresAt).toISOString());
  return `${baseUrl.replace(/\/+$/, '')}/files/${id}.png?se=${expiry}&sp=r&sig=sandbox`;
}

async function succeed(job: Job, baseUrl: string): Promise<Record<string, unknown>> {
  const data: Record<string, string>[] = [];
  for (let index = 0; index < job.n; index++) {
    const bytes = await render(job, index);
    const item: Record<string, string> =
      job.responseFormat === 'url'
        ? { url: storeFile(bytes, baseUrl) }
        : { b64_json: bytes.toString('base64') };
    if (job.model === 'dall-e-3') item.revised_prompt = revisePrompt(job);
    data.push(item);
  }
  const created = Math.floor(Date.now() / 1000);
  if (!isGptImage(job.model)) return { created, data };
  return {
    created,
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

function modelHint(raw: Record<string, unknown>, endpoint: Endpoint): string {
  const model = raw.model;
  if (typeof model === 'string' && model.length > 0) return model;
  return endpoint === 'edits' ? 'gpt-image-1.5' : 'dall-e-2';
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
      return new OpenAiError(
        404,
        body(
          'invalid_request_error',
          `The model \`${model}\` does not exist or you do not have access to it.`,
          'model_not_found',
        ),
      );
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
  if (outcome === 'insufficient_quota') {
    return new OpenAiError(429, {
      message:
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
      type: 'insufficient_quota',
      param: null,
      code: 'insufficient_quota',
    });
  }
  if (outcome === 'organization_not_verified') return statusFault(403, model, apiKey);
  return undefined;
}

function moderationError(model: Model, requestId: string): OpenAiError {
  if (isGptImage(model)) {
    return new OpenAiError(400, {
      message: `Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID ${requestId}.`,
      type: 'image_generation_user_error',
      param: null,
      code: 'moderation_blocked',
    });
  }
  return new OpenAiError(400, {
    message:
      'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.',
    type: 'image_generation_user_error',
    param: null,
    code: 'content_policy_violation',
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

// ---- routes ----

const ROUTES: Record<string, Endpoint> = {
  '/v1/images/generations': 'generations',
  '/v1/images/edits': 'edits',
};

function serveFile(request: Request, pathname: string): Response {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
  }
  const id = /^\/files\/([A-Za-z0-9-]+)\.png$/.exec(pathname)?.[1];
  const stored = id === undefined ? undefined : storedFiles.get(id);
  const xml = (code: string, message: string): string =>
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  if (!stored) {
    return new Response(xml('BlobNotFound', 'The specified blob does not exist.'), {
      status: 404,
      headers: { 'content-type': 'application/xml' },
    });
  }
  if (Date.now() >= stored.expiresAt) {
    // Like the signed blob URLs OpenAI hands out: after 60 minutes the signature no longer authorises.
    return new Response(
      xml(
        'AuthenticationFailed',
        'Signed expiry time has passed. Server failed to authenticate the request.',
      ),
      { status: 403, headers: { 'content-type': 'application/xml' } },
    );
  }
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(stored.bytes), {
    status: 200,
    headers: { 'content-type': 'image/png', 'content-length': String(stored.bytes.length) },
  });
}

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

/**
 * Requests stuck on a `timeout` fault. undici links a Request's signal to its caller's only through a weak
 * reference, so a Request nobody else holds can be collected mid-hang and the abort would never arrive;
 * holding it here until it aborts keeps "hang until the client gives up" true.
 */
const hangingRequests = new Set<Request>();

function hangUntilAbort(request: Request, context: SandboxContext): Promise<never> {
  if (request.signal.aborted) return context.hang(request.signal);
  hangingRequests.add(request);
  request.signal.addEventListener('abort', () => hangingRequests.delete(request), { once: true });
  return context.hang(request.signal);
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
  if (fault?.timeout) return hangUntilAbort(request, context);
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
  // Moderation judges a valid request, so it comes after validation and knows the model's refusal code.
  if (fault?.moderated) return errorResponse(moderationError(job.model, requestId));
  return jsonResponse(200, await succeed(job, context.baseUrl));
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

    if (pathname.startsWith('/files/')) return withHeaders(serveFile(request, pathname), headers, started);
    const endpoint = ROUTES[pathname];
    if (endpoint === undefined) {
      return withHeaders(
        errorResponse(
          new OpenAiError(404, {
            message: `Invalid URL (${request.method} ${pathname})`,
            type: 'invalid_request_error',
            param: null,
            code: null,
          }),
        ),
        headers,
        started,
      );
    }
    if (request.method !== 'POST') {
      return withHeaders(
        errorResponse(
          new OpenAiError(
            405,
            {
              message: `Invalid method for URL (${request.method} ${pathname})`,
              type: 'invalid_request_error',
              param: null,
              code: null,
            },
            { allow: 'POST' },
          ),
        ),
        headers,
        started,
      );
    }
    const response = await serveImages(request, endpoint, read.ok ? read : undefined, context, requestId);
    return withHeaders(response, headers, started);
  },
};

import { type DecodedInput, digest } from '../image-input.ts';
import { invalid, TripoFailure } from './errors.ts';
import {
  documentedFields,
  type Fields,
  isObject,
  optionalBool,
  optionalEnum,
  optionalInt,
  optionalText,
} from './fields.ts';
import { averageColour, ownTask, parseRef, type Ref, resolveImage, tintOf } from './references.ts';
import type { Bucket, TaskDraft, TaskType } from './state.ts';

/**
 * `POST /v3/generation/text-to-model`, `/image-to-model` and `/multiview-to-model`: field lists,
 * model rules and prices. Sources, checked 2026-12-02:
 * - [openapi] tryAGI/Tripo src/libs/Tripo/openapi.yaml (kept from developers.tripo3d.ai/en/docs):
 *   field names, prompt ≤ 1024, negative_prompt ≤ 255, `input`, `inputs` shapes;
 * - [skill] Tripo's agent skill github.com/VAST-AI-Research/Tripo3D-Plugin-dsh
 *   plugin/skills/tripo-3d/SKILL.md ("mirrors the official API docs"): models, per-model limits,
 *   P-series omissions, quad → FBX, generate_parts needing texture and pbr off, texture_version,
 *   `fast` texture quality, delight, prices, concurrency;
 * - [migration] Tripo's migration skill "tripo-v2-to-v3-migration" (SKILL.md; publisher
 *   unconfirmed): `model` required (1004 when missing), `model_version` alias, legacy `file`/`files`,
 *   `original_model_task_id`, export/render options;
 * - [comfy] github.com/Comfy-Org/ComfyUI PR #15851 (verified live 2026-08-24): `v2.0-20240919`
 *   answers 2015 "The version has been deprecated";
 * - [sdk] Tripo's JS SDK github.com/VAST-AI-Research/tripo-js-sdk src/client.js and test/client.test.js:
 *   multiview sent as 4 positional strings with `""` for a missing view; front plus one more view.
 */

export const GENERATION_MODELS = [
  'v3.1-20260211',
  'v3.0-20250812',
  'v2.5-20250123',
  'P1-20260311',
  'P2-20260801',
] as const;
type GenerationModel = (typeof GENERATION_MODELS)[number];
/** [comfy], [skill]: still known to the server, refused with 2015. */
const DEPRECATED_MODELS = ['Turbo-v1.0-20250506', 'v2.0-20240919'];
export const TEXTURE_VERSIONS = ['v3.5-20260815', 'v3.0-20250812', 'v2.5-20250123'] as const;

type Series = 'h3' | 'h25' | 'p1' | 'p2';
const SERIES: Record<GenerationModel, Series> = {
  'v3.1-20260211': 'h3',
  'v3.0-20250812': 'h3',
  'v2.5-20250123': 'h25',
  'P1-20260311': 'p1',
  'P2-20260801': 'p2',
};

type Kind = 'text' | 'image' | 'multiview';
const TASK_TYPES: Record<Kind, TaskType> = {
  text: 'text_to_model',
  image: 'image_to_model',
  multiview: 'multiview_to_model',
};
const ENDPOINTS: Record<Kind, string> = {
  text: 'text-to-model',
  image: 'image-to-model',
  multiview: 'multiview-to-model',
};

const COMMON_FIELDS = [
  'model',
  'model_version',
  'model_seed',
  'texture_seed',
  'texture',
  'pbr',
  'texture_quality',
  'texture_version',
  'delight',
  'geometry_quality',
  'face_limit',
  'auto_size',
  'quad',
  'smart_low_poly',
  'generate_parts',
  'compress',
  'export_uv',
  'export_orientation',
  'return_multiview',
  'render_sequence',
  'render_video',
  'check_printable',
  'style_image',
  'priority',
];
const IMAGE_FIELDS = ['texture_alignment', 'orientation', 'enable_image_autofix', 'image_autofix', 'mode'];
/** [migration] §A: `texture_alignment` is server-fixed for text input, so it is not a text field. */
const KNOWN_FIELDS: Record<Kind, readonly string[]> = {
  text: [...COMMON_FIELDS, 'prompt', 'negative_prompt', 'image_seed'],
  image: [...COMMON_FIELDS, ...IMAGE_FIELDS, 'input', 'file'],
  multiview: [
    ...COMMON_FIELDS,
    ...IMAGE_FIELDS,
    'inputs',
    'files',
    'original_model_task_id',
    'orthographic_projection',
  ],
};

/** [skill] price list (credits): [untextured, textured] by endpoint kind and series. */
const BASE_PRICES: Record<'text' | 'image', Record<Series, [number, number]>> = {
  // H v3.0 and v2.5 prices are not published; the simulator charges the H v3.1 ones.
  text: { h3: [10, 20], h25: [10, 20], p1: [30, 40], p2: [100, 110] },
  image: { h3: [20, 30], h25: [20, 30], p1: [40, 50], p2: [100, 110] },
};

interface GenerationOptions {
  model: GenerationModel;
  series: Series;
  textured: boolean;
  pbr: boolean;
  /** FBX output ([skill]: `quad: true` makes the model an FBX file). */
  quad: boolean;
  cost: number;
}

/** `model` (or its alias `model_version`): required, dated, not deprecated. */
function modelOf(fields: Fields): GenerationModel {
  if (fields.model !== undefined && fields.model_version !== undefined) {
    throw invalid('model and model_version are aliases; send only model');
  }
  const raw = fields.model ?? fields.model_version;
  if (raw === undefined) throw invalid('model is required (for example v3.1-20260211)');
  if (typeof raw !== 'string') throw invalid('model must be a string');
  if (DEPRECATED_MODELS.includes(raw)) {
    throw new TripoFailure(2015, `The version has been deprecated, please try higher version: ${raw}`);
  }
  const model = GENERATION_MODELS.find((candidate) => candidate === raw);
  if (!model) {
    throw invalid(`Invalid model ${raw}: send a dated model version (${GENERATION_MODELS.join(', ')})`);
  }
  return model;
}

/** Checks the options all three endpoints share, the per-model rules, and prices the task. */
function generationOptions(fields: Fields, kind: Kind): GenerationOptions {
  const model = modelOf(fields);
  const series = SERIES[model];
  const p = series === 'p1' || series === 'p2';

  for (const name of ['model_seed', 'texture_seed', 'image_seed']) optionalInt(fields, name);
  const texture = optionalBool(fields, 'texture');
  const pbrField = optionalBool(fields, 'pbr');
  for (const name of [
    'delight',
    'auto_size',
    'export_uv',
    'return_multiview',
    'render_sequence',
    'render_video',
    'check_printable',
    'enable_image_autofix',
    'image_autofix',
    'orthographic_projection',
  ]) {
    optionalBool(fields, name);
  }
  if (fields.enable_image_autofix !== undefined && fields.image_autofix !== undefined) {
    throw invalid('enable_image_autofix and image_autofix are aliases; send one');
  }
  const quality = optionalEnum(fields, 'texture_quality', ['standard', 'detailed', 'extreme', 'fast']);
  const textureVersion = optionalEnum(fields, 'texture_version', TEXTURE_VERSIONS);
  const geometryQuality = optionalEnum(fields, 'geometry_quality', ['standard', 'detailed']);
  optionalEnum(fields, 'compress', ['geometry']);
  optionalEnum(fields, 'export_orientation', ['+x', '-x', '+y', '-y']);
  optionalEnum(fields, 'texture_alignment', ['original_image', 'geometry']);
  const orientation = optionalEnum(fields, 'orientation', ['default', 'align_image']);
  if (fields.mode !== undefined && typeof fields.mode !== 'string') throw invalid('mode must be a string');

  // [skill], [migration] §B.3: the P series refuses these fields even when false (quad: P1 only).
  if (p) {
    const refused = ['smart_low_poly', 'generate_parts', 'geometry_quality'];
    if (series === 'p1') refused.push('quad');
    const sent = refused.filter((name) => fields[name] !== undefined);
    if (sent.length > 0) throw invalid(`${model} does not accept ${sent.join(', ')}: omit them`);
  }
  const quad = optionalBool(fields, 'quad') ?? false;
  const smartLowPoly = optionalBool(fields, 'smart_low_poly') ?? false;
  const generateParts = optionalBool(fields, 'generate_parts') ?? false;
  // [skill]: geometry_quality, smart_low_poly and generate_parts are v3.x only; quad v3.x and P2.
  if (series === 'h25') {
    if (geometryQuality !== undefined) throw invalid(`${model} does not accept geometry_quality`);
    const v3Only = (
      [
        ['quad', quad],
        ['smart_low_poly', smartLowPoly],
        ['generate_parts', generateParts],
      ] as const
    ).filter(([, on]) => on);
    if (v3Only.length > 0) throw invalid(`${v3Only.map(([name]) => name).join(', ')} need a v3.x model`);
  }

  // pbr defaults to true and forces texturing, so a model is untextured only when both are off.
  const pbr = pbrField ?? true;
  const textured = pbr || (texture ?? true);
  if (generateParts && (texture !== false || pbrField !== false)) {
    throw invalid('generate_parts requires texture: false and pbr: false to be sent explicitly');
  }
  if (quality === 'fast' && textureVersion !== 'v3.5-20260815') {
    throw invalid('texture_quality fast needs texture_version v3.5-20260815');
  }
  if (orientation === 'align_image' && series === 'p1' && !textured) {
    throw invalid(`orientation align_image with ${model} needs texture: true`);
  }
  const priority = optionalInt(fields, 'priority');
  if (priority !== undefined) {
    if (priority < 1 || priority > 3) throw invalid('priority must be between 1 and 3');
    if (priority > 1) throw new TripoFailure(2013, `This API key is not entitled to priority ${priority}`);
  }

  // smart_low_poly wins over generate_parts, and generate_parts ignores quad ([skill]).
  const partsApplied = generateParts && !smartLowPoly;
  const quadApplied = quad && !partsApplied;
  checkFaceLimit(fields, model, {
    quad: quadApplied,
    smartLowPoly,
    detailed: geometryQuality === 'detailed',
  });

  const [untextured, withTexture] = BASE_PRICES[kind === 'text' ? 'text' : 'image'][series];
  let cost = textured ? withTexture : untextured;
  if (textured && quality === 'detailed') cost += 10;
  if (textured && quality === 'extreme') cost += 20;
  if (geometryQuality === 'detailed') cost += 20;
  if (quadApplied) cost += 5;
  if (smartLowPoly) cost += 10;
  if (partsApplied) cost += 20;
  return { model, series, textured, pbr, quad: quadApplied, cost };
}

/**
 * `face_limit` ranges: H v3.1 up to 1,500,000 (2,000,000 with geometry_quality detailed), v3.0
 * 1,000,000, v2.5 500,000 (third-party reading of developers.tripo3d.ai/zh/docs, 2026-10-09);
 * smart_low_poly 500–20000 (500–10000 quad); P1 50–20000; P2 48–50000 (48–25000 quad) [skill].
 */
function checkFaceLimit(
  fields: Fields,
  model: GenerationModel,
  options: { quad: boolean; smartLowPoly: boolean; detailed: boolean },
): void {
  const faceLimit = optionalInt(fields, 'face_limit');
  if (faceLimit === undefined) return;
  let range: [number, number];
  if (model === 'P1-20260311') range = [50, 20_000];
  else if (model === 'P2-20260801') range = options.quad ? [48, 25_000] : [48, 50_000];
  else if (options.smartLowPoly) range = options.quad ? [500, 10_000] : [500, 20_000];
  else if (model === 'v3.1-20260211') range = [1, options.detailed ? 2_000_000 : 1_500_000];
  else if (model === 'v3.0-20250812') range = [1, 1_000_000];
  else range = [1, 500_000];
  const [min, max] = range;
  if (faceLimit < min || faceLimit > max) {
    throw invalid(`face_limit must be between ${min} and ${max} for ${model} with these options`);
  }
}

const VIEWS = ['front', 'left', 'back', 'right'] as const;
const VIEW_NAMES: readonly string[] = VIEWS;

/**
 * The multiview references, front/left/back/right (undefined = missing), or a task to reuse.
 * Shapes: `inputs` as view-keyed objects `[{front: ref}, {back: ref}]`, as exactly 4 positional
 * strings with `""` gaps, or `[{task_id}]`; legacy `files` with `{}` gaps; `original_model_task_id`
 * (which makes `files` ignored) ([openapi] `MultiviewToModelRequest`; [migration] §4; [sdk]).
 */
function multiviewRefs(fields: Fields): { views: (Ref | undefined)[] } | { reuse: string } {
  const { inputs, files, original_model_task_id: reuse } = fields;
  if (reuse !== undefined) {
    if (inputs !== undefined) throw invalid('inputs and original_model_task_id cannot be mixed');
    if (typeof reuse !== 'string' || reuse === '') throw invalid('original_model_task_id must be a task id');
    return { reuse };
  }
  if (inputs !== undefined && files !== undefined) throw invalid('inputs and files cannot be mixed');
  if (inputs === undefined && files === undefined) throw invalid('inputs is required');

  let views: (Ref | undefined)[];
  if (inputs !== undefined) {
    if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('inputs must be a non-empty list');
    const strings = inputs.filter((item) => typeof item === 'string').length;
    if (strings === inputs.length) {
      if (inputs.length !== 4) {
        throw invalid('positional inputs must be exactly 4 strings [front, left, back, right], "" for a gap');
      }
      views = inputs.map((item, index) => parseRef(item, `inputs[${index}] (${VIEWS[index]})`, true));
    } else if (strings > 0) {
      throw invalid('inputs cannot mix positional strings and view-keyed objects');
    } else {
      const first: unknown = inputs[0];
      if (inputs.length === 1 && isObject(first) && first.task_id !== undefined) {
        if (Object.keys(first).length !== 1 || typeof first.task_id !== 'string' || first.task_id === '') {
          throw invalid('inputs[0] must be {task_id: "<multiview image task>"}');
        }
        return { reuse: first.task_id };
      }
      views = [undefined, undefined, undefined, undefined];
      for (const [index, item] of inputs.entries()) {
        if (!isObject(item)) throw invalid(`inputs[${index}] must be an object`);
        const keys = Object.keys(item);
        const view = VIEW_NAMES.indexOf(keys[0] ?? '');
        if (keys.length !== 1 || view < 0) {
          throw invalid(`inputs[${index}] must have exactly one key: front, left, back or right`);
        }
        if (views[view] !== undefined) throw invalid(`inputs name the ${VIEWS[view]} view twice`);
        views[view] = parseRef(item[VIEWS[view] ?? 'front'], `inputs[${index}].${VIEWS[view]}`);
      }
    }
  } else {
    if (!Array.isArray(files) || files.length !== 4) {
      throw invalid('files must be a list of exactly 4 objects [front, left, back, right], {} for a gap');
    }
    views = files.map((item, index) => {
      if (!isObject(item)) throw invalid(`files[${index}] must be an object`);
      return parseRef(item, `files[${index}] (${VIEWS[index]})`, true);
    });
  }
  if (views[0] === undefined) throw invalid('the front view is required');
  if (views.filter((view) => view !== undefined).length < 2) throw invalid('at least 2 views are required');
  return { views };
}

/** The decoded input pictures, front first (none for text). */
async function inputPictures(
  kind: Kind,
  fields: Fields,
  key: string,
  signal: AbortSignal,
): Promise<DecodedInput[]> {
  if (kind === 'text') return [];
  if (kind === 'image') {
    if (fields.input !== undefined && fields.file !== undefined)
      throw invalid('input and file cannot be mixed');
    if (fields.input === undefined && fields.file === undefined) throw invalid('input is required');
    const [where, value] = fields.input !== undefined ? ['input', fields.input] : ['file', fields.file];
    if (where === 'file' && !isObject(value))
      throw invalid('file must be an object {type, file_token | url}');
    const ref = parseRef(value, where);
    if (!ref) throw invalid(`${where} names no image`);
    return [await resolveImage(ref, where, key, signal)];
  }
  const refs = multiviewRefs(fields);
  if ('reuse' in refs) {
    const task = ownTask(refs.reuse, key, 'original task');
    // Reuse needs an image-to-multiview / edit-multiview task; the sandbox makes none.
    throw new TripoFailure(2006, `task ${task.id} is a ${task.type} task, not a multiview image task`);
  }
  const pictures: DecodedInput[] = [];
  for (const [index, ref] of refs.views.entries()) {
    if (ref) pictures.push(await resolveImage(ref, `${VIEWS[index]} view`, key, signal));
  }
  return pictures;
}

/** Validates a generation request into a task draft (the first problem found answers). */
export async function generationDraft(
  kind: Kind,
  raw: Fields,
  key: string,
  signal: AbortSignal,
): Promise<TaskDraft> {
  // Only documented fields are checked: with `extraFields: 'accept'` the others are ignored.
  const input = documentedFields(raw, KNOWN_FIELDS[kind], ENDPOINTS[kind]);
  if (kind === 'text') {
    if (input.prompt === undefined) throw invalid('prompt is required');
    const prompt = optionalText(input, 'prompt', 1024);
    if (prompt === undefined || prompt.trim() === '') throw invalid('prompt must not be empty');
    optionalText(input, 'negative_prompt', 255);
  }
  const options = generationOptions(input, kind);
  const pictures = await inputPictures(kind, input, key, signal);
  if (input.style_image !== undefined) {
    const ref = parseRef(input.style_image, 'style_image');
    if (ref) await resolveImage(ref, 'style_image', key, signal);
  }

  const drawKey = digest(kind, JSON.stringify(input), ...pictures.map((picture) => digest(picture.bytes)));
  const front = pictures[0];
  const bucket: Bucket = options.series === 'p1' || options.series === 'p2' ? 'p_series' : 'h_series';
  return {
    type: TASK_TYPES[kind],
    model: options.model,
    bucket,
    cost: options.cost,
    input,
    render: {
      meshKey: drawKey,
      drawKey,
      tint: front ? averageColour(front) : tintOf(drawKey),
      textured: options.textured,
      pbr: options.pbr,
      format: options.quad ? 'fbx' : 'glb',
      picture: front,
    },
  };
}

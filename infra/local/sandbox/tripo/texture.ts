import { type DecodedInput, digest } from '../image-input.ts';
import { invalid, TripoFailure } from './errors.ts';
import {
  documentedFields,
  type Fields,
  isObject,
  optionalBool,
  optionalEnum,
  optionalInt,
} from './fields.ts';
import { averageColour, parseRef, resolveImage, resolveModel, tintOf } from './references.ts';
import type { TaskDraft } from './state.ts';

/**
 * `POST /v3/models/texture` — re-texture an earlier 3D task or an imported model. Sources, checked
 * 2026-12-02: tryAGI/Tripo openapi.yaml `TextureModelRequest` (kept from developers.tripo3d.ai/en/docs:
 * `input` = task_id, file_token or URL; `model`, `texture_seed`, `texture_quality`, `pbr`); Tripo's
 * migration skill "tripo-v2-to-v3-migration" §A.4 (`texture_prompt`, `texture`, `texture_alignment`,
 * `bake`, `part_names`, `compress`, `return_multiview`, legacy `original_model_task_id`); Tripo's
 * skill github.com/VAST-AI-Research/Tripo3D-Plugin-dsh plugin/skills/tripo-3d/SKILL.md (models,
 * `fast`, prices 10/20/30); ComfyUI-Tripo v2.0.0 release notes
 * (github.com/Tripo-Developer/ComfyUI-Tripo/releases: `texture_quality=fast`, delight, v3.5).
 *
 * Wire-name conflict: Tripo's JS/Go/Rust SDKs send top-level `text_prompt` / `image_prompt`, while
 * the docs as read by third parties, the v2 docs and the migration skill name `texture_prompt`
 * (`{text | image | images, style_image}`). The simulator takes only `texture_prompt` and rejects
 * the SDK names as undocumented fields (1004), so a client using them fails loudly here instead of
 * silently getting an unguided texture from Tripo.
 */

export const TEXTURE_MODELS = ['v3.0-20250812', 'v3.5-20260815', 'v2.5-20250123'] as const;
const DEFAULT_TEXTURE_MODEL = 'v3.0-20250812';

const KNOWN_FIELDS = [
  'input',
  'original_model_task_id',
  'model',
  'texture_prompt',
  'texture',
  'pbr',
  'texture_quality',
  'texture_alignment',
  'texture_seed',
  'delight',
  'bake',
  'part_names',
  'compress',
  'return_multiview',
];

interface Guidance {
  /** Seeds the new texture. */
  seed: string;
  picture?: DecodedInput;
}

/** `texture_prompt`: exactly one of `text`, `image`, `images` (4 refs); `style_image` only with `text`. */
async function guidanceOf(value: unknown, key: string, signal: AbortSignal): Promise<Guidance | undefined> {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid('texture_prompt must be an object {text | image | images}');
  const unknown = Object.keys(value).filter(
    (name) => !['text', 'image', 'images', 'style_image'].includes(name),
  );
  if (unknown.length > 0) throw invalid(`texture_prompt: unknown field(s) ${unknown.join(', ')}`);
  const given = ['text', 'image', 'images'].filter((name) => value[name] !== undefined);
  if (given.length !== 1) throw invalid('texture_prompt needs exactly one of text, image or images');
  if (value.style_image !== undefined && value.text === undefined) {
    throw invalid('texture_prompt.style_image is only allowed with texture_prompt.text');
  }

  if (value.text !== undefined) {
    const text = value.text;
    // The maximum length is not documented; the simulator applies the prompt limit (1024).
    if (typeof text !== 'string' || text.trim() === '')
      throw invalid('texture_prompt.text must be a non-empty string');
    if ([...text].length > 1024) throw invalid('texture_prompt.text must be at most 1024 characters');
    if (value.style_image !== undefined) {
      const ref = parseRef(value.style_image, 'texture_prompt.style_image');
      if (ref) await resolveImage(ref, 'texture_prompt.style_image', key, signal);
    }
    return { seed: digest('text', text) };
  }
  if (value.image !== undefined) {
    const ref = parseRef(value.image, 'texture_prompt.image');
    if (!ref) throw invalid('texture_prompt.image names no image');
    const picture = await resolveImage(ref, 'texture_prompt.image', key, signal);
    return { seed: digest('image', picture.bytes), picture };
  }
  const images = value.images;
  if (!Array.isArray(images) || images.length !== 4) {
    throw invalid('texture_prompt.images must be exactly 4 images [front, left, back, right]');
  }
  const pictures: DecodedInput[] = [];
  for (const [index, item] of images.entries()) {
    const ref = parseRef(item, `texture_prompt.images[${index}]`);
    if (!ref) throw invalid(`texture_prompt.images[${index}] names no image`);
    pictures.push(await resolveImage(ref, `texture_prompt.images[${index}]`, key, signal));
  }
  const [front] = pictures;
  return {
    seed: digest('images', ...pictures.map((picture) => picture.bytes)),
    ...(front ? { picture: front } : {}),
  };
}

export async function textureDraft(raw: Fields, key: string, signal: AbortSignal): Promise<TaskDraft> {
  const input = documentedFields(raw, KNOWN_FIELDS, 'models/texture');
  if (input.input !== undefined && input.original_model_task_id !== undefined) {
    throw invalid('input and original_model_task_id cannot be mixed');
  }
  const source = input.input ?? input.original_model_task_id;
  if (source === undefined) throw invalid('input is required (a model task id, file_token or URL)');

  const rawModel = input.model ?? DEFAULT_TEXTURE_MODEL;
  const model = TEXTURE_MODELS.find((candidate) => candidate === rawModel);
  if (!model) throw invalid(`Invalid texture model ${String(rawModel)}: use ${TEXTURE_MODELS.join(', ')}`);

  const texture = optionalBool(input, 'texture');
  const pbr = optionalBool(input, 'pbr') ?? true;
  for (const name of ['bake', 'return_multiview']) optionalBool(input, name);
  const delight = optionalBool(input, 'delight');
  const quality = optionalEnum(input, 'texture_quality', ['fast', 'standard', 'detailed', 'extreme']);
  optionalEnum(input, 'texture_alignment', ['original_image', 'geometry']);
  optionalEnum(input, 'compress', ['geometry']);
  optionalInt(input, 'texture_seed');
  if (input.part_names !== undefined) {
    const names = input.part_names;
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string' || name === '')) {
      throw invalid('part_names must be a list of part names');
    }
  }
  if (quality === 'fast' && model !== 'v3.5-20260815')
    throw invalid('texture_quality fast needs model v3.5-20260815');
  if (delight === true && model !== 'v3.5-20260815') throw invalid('delight needs model v3.5-20260815');

  const guidance = await guidanceOf(input.texture_prompt, key, signal);
  const where = input.input !== undefined ? 'input' : 'original_model_task_id';
  if (where === 'original_model_task_id' && typeof source !== 'string') {
    throw invalid('original_model_task_id must be a task id');
  }
  const ref = parseRef(source, where);
  if (!ref) throw invalid(`${where} names no model`);
  const found = await resolveModel(ref, where, key, signal);

  let meshKey: string;
  let baseGlb: Buffer | undefined;
  if (found.kind === 'task') {
    if (!found.task.finished || found.task.outcome.status !== 'success') {
      throw new TripoFailure(2007, `${where}: task ${found.task.id} has not succeeded`);
    }
    // Same mesh as the source task, new surface.
    meshKey = found.task.render.meshKey;
  } else {
    // An imported model has no source image to texture from.
    if (!guidance) throw invalid('texture_prompt is required to texture an imported model');
    meshKey = digest('import', found.bytes);
    if (found.format === 'glb') baseGlb = found.bytes;
  }
  const seed = digest('retexture', meshKey, guidance?.seed ?? '', String(input.texture_seed ?? ''));
  const cost = quality === 'extreme' ? 30 : quality === 'detailed' ? 20 : 10;
  return {
    type: 'texture_model',
    model,
    bucket: 'model_processing',
    cost,
    input,
    render: {
      meshKey,
      drawKey: seed,
      tint: guidance?.picture ? averageColour(guidance.picture) : tintOf(seed),
      textured: pbr || (texture ?? true),
      pbr,
      format: 'glb',
      picture: guidance?.picture,
      baseGlb,
    },
  };
}

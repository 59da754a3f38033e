import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { validationIssues } from '../support/validation.ts';

/**
 * The Tripo request schemas (text-to-model, image-to-model, refine-model): the guide's examples
 * as written, Tripo's enums and ranges, and the combinations Tripo refuses, each a 400 that names
 * the field before anything is sent.
 */

const SUPABASE = 'https://project.supabase.co';
const STORAGE = `${SUPABASE}/storage/v1/object/public`;
const view = (name: string) => `${STORAGE}/bucket/${name}.png`;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  delete process.env.SUPABASE_BUCKET;
  resetConfig();
});

const issues = validationIssues;

const textExample = {
  task_id: 'task-workspace-xyz789',
  provider: 'tripo',
  prompt: 'A medieval castle with tall towers',
  style: 'realistic',
  texture: true,
  pbr: false,
  model_version: 'v2.5-20250123',
  face_limit: 10000,
  auto_size: true,
  texture_quality: 'standard',
};

const imageExample = {
  task_id: 'task-workspace-ghi789',
  provider: 'tripo',
  input_image_asset_urls: [view('front'), view('left'), view('back'), view('right')],
  prompt: 'Make it more detailed',
  texture: true,
  pbr: false,
  texture_quality: 'detailed',
  model_version: 'v2.5-20250123',
  face_limit: 10000,
  auto_size: true,
  orientation: 'default',
};

const refineExample = {
  task_id: 'task-workspace-mno345',
  provider: 'tripo',
  input_model_asset_url: `${STORAGE}/bucket/model.glb`,
  prompt: 'Make it look more weathered and ancient',
  draft_model_task_id: 'tripo_task_prev_abc',
  texture: true,
  pbr: true,
  texture_quality: 'detailed',
  model_version: 'v2.5-20250123',
  face_limit: 20000,
  auto_size: true,
};

describe('the guide examples', () => {
  it.each([
    ['text-to-model', textExample],
    ['image-to-model', imageExample],
    ['refine-model', refineExample],
  ])('accepts %s as written, keeping what the client sent', (operation, example) => {
    const { entry, clientTaskId, params } = validateGeneration(operation, { ...example, unknown_field: 1 });
    expect(entry).toMatchObject({
      provider: 'tripo',
      mode: 'async',
      resultKind: 'model',
      reportsProgress: true,
    });
    expect(clientTaskId).toBe(example.task_id);
    // No defaults are invented: Tripo's own apply to what the client left out.
    expect(params).toEqual(example);
  });

  it('serves only tripo for text-to-model and refine-model', () => {
    expect(() => validateGeneration('text-to-model', { ...textExample, provider: 'openai' })).toThrow(
      /^Unsupported provider 'openai' for text-to-model\. Supported providers: tripo$/,
    );
    expect(() => validateGeneration('refine-model', { ...refineExample, provider: 'stability' })).toThrow(
      /^Unsupported provider 'stability' for refine-model\. Supported providers: tripo$/,
    );
  });
});

describe('text-to-model', () => {
  it('accepts every documented model_version and texture_quality', () => {
    for (const version of ['v3.1-20260211', 'P1-20260311', 'v1.4-20240625', 'Turbo-v1.0-20250506']) {
      expect(
        validateGeneration('text-to-model', { ...textExample, model_version: version }).params,
      ).toMatchObject({ model_version: version });
    }
    expect(
      validateGeneration('text-to-model', { ...textExample, texture_quality: 'extreme' }).params,
    ).toMatchObject({ texture_quality: 'extreme' });
  });

  it.each([
    [{ prompt: undefined }, 'prompt', 'is required'],
    [{ prompt: 'x'.repeat(1025) }, 'prompt', 'must be a string of 1 to 1024 characters'],
    [{ prompt: 'a castle 🏰' }, 'prompt', 'must not contain emoji (Tripo rejects them)'],
    [{ negative_prompt: 'x'.repeat(256) }, 'negative_prompt', 'must be a string of 1 to 255 characters'],
    [{ model_version: 'v2.5' }, 'model_version', 'must be one of: v2.5-20250123, v2.0-20240919'],
    [{ texture_quality: 'high' }, 'texture_quality', 'must be one of: standard, detailed, extreme'],
    [{ face_limit: 500_001 }, 'face_limit', 'must be an integer between 1 and 500000'],
    [{ face_limit: 0 }, 'face_limit', 'must be an integer between 1 and 500000'],
    [{ face_limit: 1000.5 }, 'face_limit', 'must be an integer between 1 and 500000'],
    [{ texture: 'yes' }, 'texture', 'must be true or false'],
    [{ model_seed: -1 }, 'model_seed', 'must be an integer between 0 and 2147483647'],
    [{ style: 'object:clay' }, 'style', 'must be "realistic" (Tripo v2 offers no other style'],
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('text-to-model', { ...textExample, ...change });
    expect(found).toHaveLength(1);
    expect(found[0]?.field).toBe(field);
    expect(found[0]?.message).toContain(message);
  });

  it.each([
    [
      { texture: false, pbr: false, texture_quality: 'standard' },
      'texture_quality',
      'cannot be "standard" when texture and pbr are both false',
    ],
    [{ generate_parts: true }, 'generate_parts', 'requires texture: false and pbr: false'],
    [
      { geometry_quality: 'detailed' },
      'geometry_quality',
      'requires model_version v3.0-20250812 or v3.1-20260211',
    ],
    [{ smart_low_poly: true, face_limit: 500 }, 'face_limit', 'between 1000 and 20000 with smart_low_poly'],
    [
      { model_version: 'P1-20260311', face_limit: 30_000 },
      'face_limit',
      'between 48 and 20000 with model_version P1',
    ],
  ])('rejects the combination %j naming %s', (change, field, message) => {
    const found = issues('text-to-model', { ...textExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });

  it('accepts the same fields in combinations Tripo takes', () => {
    const untextured = { texture: false, pbr: false, generate_parts: true, texture_quality: undefined };
    expect(validateGeneration('text-to-model', { ...textExample, ...untextured }).params).toMatchObject({
      generate_parts: true,
    });
    const h3 = {
      model_version: 'v3.0-20250812',
      geometry_quality: 'detailed',
      smart_low_poly: true,
      face_limit: 5000,
    };
    expect(validateGeneration('text-to-model', { ...textExample, ...h3 }).params).toMatchObject(h3);
  });
});

describe('image-to-model (tripo)', () => {
  it('accepts one image, and a missing left or back view as null', () => {
    expect(
      validateGeneration('image-to-model', { ...imageExample, input_image_asset_urls: [view('front')] })
        .params,
    ).toMatchObject({ input_image_asset_urls: [view('front')] });
    const gaps = [view('front'), null, view('back')];
    expect(
      validateGeneration('image-to-model', { ...imageExample, input_image_asset_urls: gaps }).params,
    ).toMatchObject({ input_image_asset_urls: gaps });
  });

  it.each([
    [{ input_image_asset_urls: [] }, 'input_image_asset_urls', 'must be a list of 1 to 4 image URLs'],
    [
      { input_image_asset_urls: [1, 2, 3, 4, 5].map((n) => view(`v${n}`)) },
      'input_image_asset_urls',
      'must be a list of 1 to 4 image URLs',
    ],
    [{ input_image_asset_urls: [null, view('left')] }, 'input_image_asset_urls.0', 'must be the front view'],
    [
      { input_image_asset_urls: ['https://example.com/front.png'] },
      'input_image_asset_urls.0',
      `must be a Supabase Storage object URL of this project, starting with ${STORAGE}/`,
    ],
    [{ input_image_asset_urls: undefined }, 'input_image_asset_urls', 'is required'],
    [{ orientation: 'upright' }, 'orientation', 'must be one of: default, align_image'],
    [{ texture_alignment: 'mesh' }, 'texture_alignment', 'must be one of: original_image, geometry'],
    [{ orientation: 'align_image', texture: false }, 'orientation', '"align_image" requires texture: true'],
    [
      { texture: false, pbr: false, texture_quality: 'standard' },
      'texture_quality',
      'cannot be "standard" when texture and pbr are both false',
    ],
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('image-to-model', { ...imageExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });
});

describe('refine-model', () => {
  const produced = `${STORAGE}/makeit3d-app-assets/development_tenant/task-1/job-1/0.glb`;

  it('accepts a model this service produced without draft_model_task_id', () => {
    const body = { task_id: 't', provider: 'tripo', input_model_asset_url: produced };
    expect(validateGeneration('refine-model', body).params).toEqual(body);
  });

  it.each([
    [
      { draft_model_task_id: undefined },
      'draft_model_task_id',
      'is required unless input_model_asset_url is a GLB',
    ],
    [
      {
        draft_model_task_id: undefined,
        input_model_asset_url: produced.replace('makeit3d-app-assets', 'other'),
      },
      'draft_model_task_id',
      'is required unless',
    ],
    [{ draft_model_task_id: 'has spaces' }, 'draft_model_task_id', 'must be a Tripo task id'],
    [{ input_model_asset_url: undefined }, 'input_model_asset_url', 'is required'],
    [{ texture_quality: 'ultra' }, 'texture_quality', 'must be one of: standard, detailed, extreme'],
    [{ face_limit: -5 }, 'face_limit', 'must be an integer between 1 and 500000'],
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('refine-model', { ...refineExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });
});

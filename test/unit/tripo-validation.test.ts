import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { validationIssues } from '../support/validation.ts';

/**
 * The Tripo request schemas (text-to-model, image-to-model, refine-model): the guide's examples
 * as written, Tripo v3's models, enums and ranges, and the combinations Tripo refuses, each a 400
 * that names the field before anything is sent.
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
  it('accepts every model Tripo v3 serves, and texture_quality extreme', () => {
    for (const version of ['v3.1-20260211', 'v3.0-20250812', 'v2.5-20250123', 'P1-20260311', 'P2-20260801']) {
      expect(
        validateGeneration('text-to-model', { ...textExample, model_version: version, face_limit: 5000 })
          .params,
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
    [
      { model_version: 'v2.5' },
      'model_version',
      'must be one of: v3.1-20260211, v3.0-20250812, v2.5-20250123',
    ],
    [{ model_version: 'v2.0-20240919' }, 'model_version', "'v2.0-20240919' was retired by Tripo"],
    [
      { model_version: 'v1.4-20240625' },
      'model_version',
      "'v1.4-20240625' was retired by Tripo (2026-10-31)",
    ],
    [{ texture_quality: 'high' }, 'texture_quality', 'must be one of: standard, detailed, extreme'],
    [{ face_limit: 500_001 }, 'face_limit', 'must be between 1 and 500000 for model v2.5-20250123'],
    [{ face_limit: 0 }, 'face_limit', 'must be an integer between 1 and 2000000'],
    [{ face_limit: 1000.5 }, 'face_limit', 'must be an integer between 1 and 2000000'],
    [{ texture: 'yes' }, 'texture', 'must be true or false'],
    [{ model_seed: -1 }, 'model_seed', 'must be an integer between 0 and 2147483647'],
    [{ style: 'object:clay' }, 'style', 'must be "realistic" (Tripo offers no other style'],
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('text-to-model', { ...textExample, ...change });
    expect(found).toHaveLength(1);
    expect(found[0]?.field).toBe(field);
    expect(found[0]?.message).toContain(message);
  });

  it.each([
    [
      { texture: false, pbr: false, generate_parts: true },
      'generate_parts',
      'requires model_version v3.1-20260211 or v3.0-20250812 (the model is v2.5-20250123)',
    ],
    [
      { model_version: 'v3.1-20260211', generate_parts: true },
      'generate_parts',
      'requires texture: false and pbr: false',
    ],
    [
      { geometry_quality: 'detailed' },
      'geometry_quality',
      'requires model_version v3.1-20260211 or v3.0-20250812',
    ],
    [
      { model_version: 'v3.1-20260211', smart_low_poly: true, face_limit: 400 },
      'face_limit',
      'between 500 and 20000 with smart_low_poly',
    ],
    [
      { model_version: 'P1-20260311', face_limit: 30_000 },
      'face_limit',
      'between 50 and 20000 for model P1-20260311',
    ],
    [
      { model_version: 'P2-20260801', face_limit: 5000, smart_low_poly: false },
      'smart_low_poly',
      "must be omitted with model P2-20260801 (Tripo's P series refuses it)",
    ],
    [
      { model_version: 'v3.1-20260211', face_limit: 1_600_000 },
      'face_limit',
      'must be between 1 and 1500000 for model v3.1-20260211',
    ],
  ])('rejects the combination %j naming %s', (change, field, message) => {
    const found = issues('text-to-model', { ...textExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });

  it('accepts the same fields in combinations Tripo takes', () => {
    const parts = { model_version: 'v3.1-20260211', texture: false, pbr: false, generate_parts: true };
    expect(validateGeneration('text-to-model', { ...textExample, ...parts }).params).toMatchObject(parts);
    const h3 = {
      model_version: 'v3.1-20260211',
      geometry_quality: 'detailed',
      face_limit: 1_800_000,
    };
    expect(validateGeneration('text-to-model', { ...textExample, ...h3 }).params).toMatchObject(h3);
  });

  it('checks the model configured for the stage when the request names none', () => {
    process.env.TRIPO_MODEL = 'P1-20260311';
    resetConfig();
    try {
      const { model_version: _omitted, ...withoutModel } = textExample;
      expect(issues('text-to-model', { ...withoutModel, geometry_quality: 'detailed' })).toEqual([
        {
          field: 'geometry_quality',
          message: "must be omitted with model P1-20260311 (Tripo's P series refuses it)",
        },
      ]);
    } finally {
      delete process.env.TRIPO_MODEL;
      resetConfig();
    }
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
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('image-to-model', { ...imageExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });
});

describe('refine-model', () => {
  it('needs no draft_model_task_id: the model is resolved from its URL', () => {
    const { draft_model_task_id: _omitted, ...body } = refineExample;
    expect(validateGeneration('refine-model', body).params).toEqual(body);
  });

  it.each([
    [{ prompt: undefined }, 'prompt', 'is required'],
    [{ draft_model_task_id: 'has spaces' }, 'draft_model_task_id', 'must be a Tripo task id'],
    [{ input_model_asset_url: undefined }, 'input_model_asset_url', 'is required'],
    [{ texture_quality: 'ultra' }, 'texture_quality', 'must be one of: standard, detailed, extreme'],
    [{ face_limit: -5 }, 'face_limit', 'must be an integer between 1 and 2000000'],
    [{ model_version: 'v1.4-20240625' }, 'model_version', 'was retired by Tripo'],
  ])('rejects %j naming %s', (change, field, message) => {
    const found = issues('refine-model', { ...refineExample, ...change });
    expect(found.map((issue) => issue.field)).toEqual([field]);
    expect(found[0]?.message).toContain(message);
  });
});

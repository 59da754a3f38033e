import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { ValidationError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';

/**
 * The Stability image-to-model (SPAR3D) request schema: the guide's example as written, SPAR3D's
 * real ranges (not the guide's), the one-image rule, and the documented foreground_ratio range.
 */

const SUPABASE = 'https://project.supabase.co';
const PHOTO = `${SUPABASE}/storage/v1/object/public/bucket/photo.png`;
const OTHER = `${SUPABASE}/storage/v1/object/public/bucket/left.png`;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
});

function issues(body: unknown): { field: string; message: string }[] {
  try {
    validateGeneration('image-to-model', body);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a validation error');
}

function detail(body: unknown): string {
  try {
    validateGeneration('image-to-model', body);
  } catch (error) {
    if (error instanceof ValidationError) return error.message;
    throw error;
  }
  throw new Error('expected a validation error');
}

/** The guide's "Stability AI Provider (SPAR3D)" example, with the project's storage URL. */
const example = {
  task_id: 'task-workspace-mno345',
  provider: 'stability',
  input_image_asset_urls: [PHOTO],
  prompt: 'High quality 3D model',
  texture_resolution: 1024,
  remesh: 'quad',
  foreground_ratio: 0.85,
  target_type: 'vertex',
  target_count: 10000,
  guidance_scale: 3.0,
  seed: 12345,
};

const MULTIVIEW = 'Stability takes exactly 1 image; use provider tripo for multiview';
const FOREGROUND =
  'must be a number between 0 and 2 (SPAR3D takes 1-2; values below 1, as in the guide, are sent as 1)';
const TEXTURE = 'must be one of: 512, 1024, 2048';
const SEED = 'must be an integer between 0 and 4294967294';
const TARGET_COUNT = 'must be an integer between 100 and 20000';
const GUIDANCE = 'must be a number between 1 and 10';
const ASSET_URL = `must be a Supabase Storage object URL of this project, starting with ${SUPABASE}/storage/v1/object/public/ (or …/object/sign/)`;

describe('Stability image-to-model (SPAR3D)', () => {
  it('accepts the guide example as written, keeping the request as given', () => {
    const { entry, params, clientTaskId } = validateGeneration('image-to-model', example);
    expect(entry).toMatchObject({
      provider: 'stability',
      mode: 'sync',
      resultKind: 'model',
      inputFields: ['input_image_asset_urls'],
    });
    expect(clientTaskId).toBe('task-workspace-mno345');
    // 0.85 stays in the request; the translation to 1 happens when SPAR3D is called.
    expect(params).toEqual(example);
  });

  it('needs only task_id, provider and one image, and adds no defaults of its own', () => {
    const body = { task_id: 't', provider: 'stability', input_image_asset_urls: [PHOTO] };
    expect(validateGeneration('image-to-model', { ...body, face_limit: 5 }).params).toEqual(body);
  });

  it.each([
    [512, 512],
    ['512', '512'],
    [2048, 2048],
    ['2048', '2048'],
  ])('takes texture_resolution %j as a number or a string', (given, kept) => {
    const { params } = validateGeneration('image-to-model', { ...example, texture_resolution: given });
    expect(params.texture_resolution).toBe(kept);
  });

  it.each([0, 0.1, 0.85, 0.999, 1, 1.3, 2])(
    'takes foreground_ratio %d (below 1 is translated, not refused)',
    (ratio) => {
      const { params } = validateGeneration('image-to-model', { ...example, foreground_ratio: ratio });
      expect(params.foreground_ratio).toBe(ratio);
    },
  );

  it.each([
    [{ target_type: 'none' }],
    [{ target_type: 'face', target_count: 100 }],
    [{ target_count: 20_000 }],
    [{ remesh: 'none' }],
    [{ remesh: 'triangle' }],
    [{ guidance_scale: 1 }],
    [{ guidance_scale: 10 }],
    [{ seed: 0 }],
    [{ seed: 4_294_967_294 }],
    [{ prompt: '' }],
  ])('takes the edge value %j', (change) => {
    expect(validateGeneration('image-to-model', { ...example, ...change }).params).toMatchObject(change);
  });

  it('refuses two images with the multiview hint, naming the field', () => {
    const body = { ...example, input_image_asset_urls: [PHOTO, OTHER] };
    expect(issues(body)).toEqual([
      { field: 'input_image_asset_urls', message: `must hold exactly 1 image URL: ${MULTIVIEW}` },
    ]);
    expect(detail(body)).toBe(
      `Invalid request: input_image_asset_urls must hold exactly 1 image URL: ${MULTIVIEW}`,
    );
  });

  it.each(
    (
      [
        [{ input_image_asset_urls: [] }, 'input_image_asset_urls', 'must hold exactly 1 image URL'],
        [
          { input_image_asset_urls: PHOTO },
          'input_image_asset_urls',
          `must be a list of exactly 1 image URL (${MULTIVIEW})`,
        ],
        [{ input_image_asset_urls: undefined }, 'input_image_asset_urls', 'is required'],
        [
          { input_image_asset_urls: ['https://example.com/photo.png'] },
          'input_image_asset_urls.0',
          ASSET_URL,
        ],
        [{ texture_resolution: 4096 }, 'texture_resolution', TEXTURE],
        [{ texture_resolution: '1024px' }, 'texture_resolution', TEXTURE],
        [{ texture_resolution: 1024.5 }, 'texture_resolution', TEXTURE],
        [{ texture_resolution: null }, 'texture_resolution', TEXTURE],
        [{ remesh: 'quads' }, 'remesh', 'must be one of: none, quad, triangle'],
        [{ remesh: 'Quad' }, 'remesh', 'must be one of: none, quad, triangle'],
        [{ foreground_ratio: -0.1 }, 'foreground_ratio', FOREGROUND],
        [{ foreground_ratio: 2.01 }, 'foreground_ratio', FOREGROUND],
        [{ foreground_ratio: '0.85' }, 'foreground_ratio', FOREGROUND],
        [{ target_type: 'edge' }, 'target_type', 'must be one of: none, vertex, face'],
        [{ target_count: 99 }, 'target_count', TARGET_COUNT],
        [{ target_count: 20_001 }, 'target_count', TARGET_COUNT],
        [{ target_count: 1000.5 }, 'target_count', TARGET_COUNT],
        [{ guidance_scale: 0.9 }, 'guidance_scale', GUIDANCE],
        [{ guidance_scale: 10.5 }, 'guidance_scale', GUIDANCE],
        [{ guidance_scale: '3' }, 'guidance_scale', GUIDANCE],
        [{ seed: -1 }, 'seed', SEED],
        [{ seed: 4_294_967_295 }, 'seed', SEED],
        [{ seed: 1.5 }, 'seed', SEED],
        [{ prompt: 'x'.repeat(10_001) }, 'prompt', 'must be a string of 0 to 10000 characters'],
      ] as const
    ).map(([change, field, message]) => ({
      change,
      field,
      message,
      // A 10,001-character prompt would fill the report.
      label: JSON.stringify(change).slice(0, 80),
    })),
  )('rejects $label naming the field', ({ change, field, message }) => {
    expect(issues({ ...example, ...change })).toEqual([{ field, message }]);
  });

  it('says why a foreground_ratio above SPAR3D’s maximum is refused', () => {
    expect(detail({ ...example, foreground_ratio: 3 })).toBe(
      `Invalid request: foreground_ratio ${FOREGROUND}`,
    );
  });

  it('refuses another provider with the contract words', () => {
    expect(() => validateGeneration('image-to-model', { ...example, provider: 'openai' })).toThrow(
      /^Unsupported provider 'openai' for image-to-model\. Supported providers: .*stability/,
    );
  });
});

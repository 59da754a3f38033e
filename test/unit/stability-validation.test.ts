import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { validationIssues } from '../support/validation.ts';

/** The Stability request schemas: the guide's examples as written, and every documented limit. */

const SUPABASE = 'https://project.supabase.co';
const IMAGE = `${SUPABASE}/storage/v1/object/public/bucket/path/image.png`;
const SKETCH = `${SUPABASE}/storage/v1/object/public/bucket/sketch.png`;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
});

const issues = validationIssues;

const STYLE_PRESETS =
  'enhance, anime, photographic, digital-art, comic-book, fantasy-art, line-art, analog-film, neon-punk, isometric, low-poly, origami, modeling-compound, cinematic, 3d-model, pixel-art, tile-texture';
const ASPECT_RATIOS = '21:9, 16:9, 3:2, 5:4, 1:1, 4:5, 2:3, 9:16, 9:21';
const SEED = 'must be an integer between 0 and 4294967294';
const UNIT = 'must be a number between 0 and 1';
const PROMPT_LENGTH = 'must be a string of 1 to 10000 characters';
const NEGATIVE_PROMPT_LENGTH = 'must be a string of 0 to 10000 characters';
const OUTPUT_FORMATS = 'must be one of: png, jpeg, webp';
const ASSET_URL = `must be a Supabase Storage object URL of this project, starting with ${SUPABASE}/storage/v1/object/public/ (or …/object/sign/)`;

/** Limits every operation with these fields shares. */
const sharedCases = {
  style_preset: [
    [{ style_preset: 'watercolor' }, 'style_preset', `must be one of: ${STYLE_PRESETS}`],
    [{ style_preset: '3D-Model' }, 'style_preset', `must be one of: ${STYLE_PRESETS}`],
  ],
  negative_prompt: [
    [{ negative_prompt: 'x'.repeat(10_001) }, 'negative_prompt', NEGATIVE_PROMPT_LENGTH],
    [{ negative_prompt: ['blurry'] }, 'negative_prompt', NEGATIVE_PROMPT_LENGTH],
  ],
  output_format: [
    [{ output_format: 'gif' }, 'output_format', OUTPUT_FORMATS],
    [{ output_format: 'PNG' }, 'output_format', OUTPUT_FORMATS],
  ],
  seed: [
    [{ seed: -1 }, 'seed', SEED],
    [{ seed: 4_294_967_295 }, 'seed', SEED],
    [{ seed: 1.5 }, 'seed', SEED],
    [{ seed: '42' }, 'seed', SEED],
  ],
  prompt: [
    [{ prompt: '' }, 'prompt', 'must not be empty'],
    [{ prompt: '   ' }, 'prompt', 'must not be empty'],
    [{ prompt: 'x'.repeat(10_001) }, 'prompt', PROMPT_LENGTH],
    [{ prompt: 7 }, 'prompt', PROMPT_LENGTH],
  ],
} satisfies Record<string, [Record<string, unknown>, string, string][]>;

describe('Stability text-to-image (generate/core)', () => {
  const example = {
    task_id: 'task-workspace-ghi789',
    provider: 'stability',
    prompt: 'A violet cartoon flying elephant with big ears',
    style_preset: 'fantasy-art',
    aspect_ratio: '1:1',
    negative_prompt: 'realistic, photo',
    output_format: 'png',
    seed: 42,
  };

  it('accepts the guide example as written', () => {
    const { entry, params, clientTaskId } = validateGeneration('text-to-image', example);
    expect(entry.provider).toBe('stability');
    expect(clientTaskId).toBe('task-workspace-ghi789');
    expect(params).toEqual(example);
  });

  it('needs only task_id and prompt, and defaults output_format to png', () => {
    const { params } = validateGeneration('text-to-image', {
      task_id: 't',
      provider: 'stability',
      prompt: 'a cube',
      n: 3,
    });
    expect(params).toEqual({ task_id: 't', provider: 'stability', prompt: 'a cube', output_format: 'png' });
  });

  it.each([
    ...sharedCases.prompt,
    ...sharedCases.negative_prompt,
    ...sharedCases.style_preset,
    ...sharedCases.output_format,
    ...sharedCases.seed,
    [{ aspect_ratio: '4:3' }, 'aspect_ratio', `must be one of: ${ASPECT_RATIOS}`],
    [{ aspect_ratio: '1024x1024' }, 'aspect_ratio', `must be one of: ${ASPECT_RATIOS}`],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('text-to-image', { ...example, ...change })).toEqual([{ field, message }]);
  });

  it('lists every problem in one answer', () => {
    expect(
      issues('text-to-image', { provider: 'stability', style_preset: 'x', seed: -5, aspect_ratio: '2:1' }),
    ).toEqual([
      { field: 'task_id', message: 'is required' },
      { field: 'prompt', message: 'is required' },
      { field: 'style_preset', message: `must be one of: ${STYLE_PRESETS}` },
      { field: 'aspect_ratio', message: `must be one of: ${ASPECT_RATIOS}` },
      { field: 'seed', message: SEED },
    ]);
  });
});

describe('Stability image-to-image (control/style)', () => {
  const example = {
    task_id: 'task-workspace-def456',
    provider: 'stability',
    prompt: 'A futuristic cityscape at dusk',
    input_image_asset_url: IMAGE,
    style_preset: '3d-model',
    fidelity: 0.8,
    negative_prompt: 'blurry, low quality',
    output_format: 'png',
    seed: 12345,
  };

  it('accepts the guide example as written', () => {
    expect(validateGeneration('image-to-image', example).params).toEqual(example);
  });

  it('defaults fidelity to 0.8 and takes the whole 0-1 range', () => {
    const { fidelity: _omitted, ...rest } = example;
    expect(validateGeneration('image-to-image', rest).params.fidelity).toBe(0.8);
    expect(validateGeneration('image-to-image', { ...example, fidelity: 0 }).params.fidelity).toBe(0);
    expect(validateGeneration('image-to-image', { ...example, fidelity: 1 }).params.fidelity).toBe(1);
  });

  it.each([
    ...sharedCases.prompt,
    ...sharedCases.negative_prompt,
    ...sharedCases.style_preset,
    ...sharedCases.output_format,
    ...sharedCases.seed,
    [{ fidelity: -0.1 }, 'fidelity', UNIT],
    [{ fidelity: 1.01 }, 'fidelity', UNIT],
    [{ fidelity: '0.8' }, 'fidelity', UNIT],
    [{ aspect_ratio: '3:4' }, 'aspect_ratio', `must be one of: ${ASPECT_RATIOS}`],
    [{ input_image_asset_url: 'https://example.com/image.png' }, 'input_image_asset_url', ASSET_URL],
    [{ input_image_asset_url: undefined }, 'input_image_asset_url', 'is required'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('image-to-image', { ...example, ...change })).toEqual([{ field, message }]);
  });
});

describe('Stability sketch-to-image (control/sketch)', () => {
  const example = {
    task_id: 'task-workspace-jkl012',
    provider: 'stability',
    input_sketch_asset_url: SKETCH,
    prompt: 'Modern furniture piece',
    control_strength: 0.7,
    style_preset: 'photographic',
    negative_prompt: 'blurry, distorted',
    output_format: 'png',
  };

  it('accepts the guide example as written', () => {
    expect(validateGeneration('sketch-to-image', example).params).toEqual(example);
  });

  it('defaults provider to stability and control_strength to 0.7, and takes a seed', () => {
    const { provider: _provider, control_strength: _strength, ...rest } = example;
    const { entry, params } = validateGeneration('sketch-to-image', { ...rest, seed: 7 });
    expect(entry.provider).toBe('stability');
    expect(params).toMatchObject({ provider: 'stability', control_strength: 0.7, seed: 7 });
  });

  it('refuses another provider with the contract words', () => {
    expect(() => validateGeneration('sketch-to-image', { ...example, provider: 'recraft' })).toThrow(
      "Unsupported provider 'recraft' for sketch-to-image. Supported providers: stability",
    );
  });

  it.each([
    ...sharedCases.prompt,
    ...sharedCases.negative_prompt,
    ...sharedCases.style_preset,
    ...sharedCases.output_format,
    ...sharedCases.seed,
    [{ control_strength: -0.01 }, 'control_strength', UNIT],
    [{ control_strength: 1.5 }, 'control_strength', UNIT],
    [{ control_strength: null }, 'control_strength', UNIT],
    [{ input_sketch_asset_url: 'http://169.254.169.254/latest' }, 'input_sketch_asset_url', ASSET_URL],
    [{ input_sketch_asset_url: undefined }, 'input_sketch_asset_url', 'is required'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('sketch-to-image', { ...example, ...change })).toEqual([{ field, message }]);
  });
});

describe('Stability remove-background (edit/remove-background)', () => {
  const example = {
    task_id: 'task-workspace-pqr678',
    provider: 'stability',
    input_image_asset_url: IMAGE,
    output_format: 'png',
  };

  it('accepts the guide example as written, and webp', () => {
    expect(validateGeneration('remove-background', example).params).toEqual(example);
    expect(
      validateGeneration('remove-background', { ...example, output_format: 'webp' }).params,
    ).toMatchObject({
      output_format: 'webp',
    });
  });

  it('defaults output_format to png', () => {
    const { output_format: _format, ...rest } = example;
    expect(validateGeneration('remove-background', rest).params.output_format).toBe('png');
  });

  it.each([[{ output_format: 'jpeg' }], [{ output_format: 'gif' }]])(
    'rejects %j saying Stability only takes png or webp',
    (change) => {
      expect(issues('remove-background', { ...example, ...change })).toEqual([
        {
          field: 'output_format',
          message: "must be one of: png, webp (Stability's background removal only produces png or webp)",
        },
      ]);
    },
  );

  it('rejects an input URL outside the project', () => {
    expect(
      issues('remove-background', { ...example, input_image_asset_url: 'https://evil.example/x.png' }),
    ).toEqual([{ field: 'input_image_asset_url', message: ASSET_URL }]);
  });
});

describe('Stability search-and-recolor (edit/search-and-recolor)', () => {
  const example = {
    task_id: 'task-workspace-xyz123',
    provider: 'stability',
    input_image_asset_url: IMAGE,
    prompt: 'light blue cat with dark blue stripes, maintaining the same pose and expression',
    select_prompt: 'cat',
    negative_prompt: 'blurry, low quality, distorted, orange, tan, brown',
    grow_mask: 3,
    seed: 0,
    output_format: 'png',
    style_preset: 'photographic',
  };

  it('accepts the guide example as written', () => {
    expect(validateGeneration('search-and-recolor', example).params).toEqual(example);
  });

  it('defaults provider to stability, grow_mask to 3 and output_format to png', () => {
    const { provider: _p, grow_mask: _g, output_format: _o, ...rest } = example;
    const { entry, params } = validateGeneration('search-and-recolor', rest);
    expect(entry.provider).toBe('stability');
    expect(params).toMatchObject({ grow_mask: 3, output_format: 'png' });
  });

  it.each([
    ...sharedCases.prompt,
    ...sharedCases.negative_prompt,
    ...sharedCases.style_preset,
    ...sharedCases.output_format,
    ...sharedCases.seed,
    [{ select_prompt: undefined }, 'select_prompt', 'is required'],
    [{ select_prompt: '' }, 'select_prompt', 'must not be empty'],
    [{ select_prompt: 'x'.repeat(10_001) }, 'select_prompt', PROMPT_LENGTH],
    [{ grow_mask: -1 }, 'grow_mask', 'must be an integer between 0 and 20'],
    [{ grow_mask: 21 }, 'grow_mask', 'must be an integer between 0 and 20'],
    [{ grow_mask: 2.5 }, 'grow_mask', 'must be an integer between 0 and 20'],
    [{ input_image_asset_url: undefined }, 'input_image_asset_url', 'is required'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('search-and-recolor', { ...example, ...change })).toEqual([{ field, message }]);
  });
});

describe('Stability upscale (upscale/fast)', () => {
  const example = {
    task_id: 'upscale-stability-001',
    provider: 'stability',
    input_image_asset_url: IMAGE,
    model: 'fast',
    output_format: 'png',
  };

  it('accepts the guide example as written', () => {
    expect(validateGeneration('upscale', example).params).toEqual(example);
  });

  it('defaults model to fast and output_format to png', () => {
    const { model: _m, output_format: _o, ...rest } = example;
    expect(validateGeneration('upscale', rest).params).toMatchObject({ model: 'fast', output_format: 'png' });
  });

  it.each([
    ...sharedCases.output_format,
    [{ model: 'crisp' }, 'model', "must be one of: fast (Stability's only upscale model here)"],
    [{ model: 'conservative' }, 'model', "must be one of: fast (Stability's only upscale model here)"],
    [{ input_image_asset_url: 42 }, 'input_image_asset_url', 'must be a URL string'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('upscale', { ...example, ...change })).toEqual([{ field, message }]);
  });
});

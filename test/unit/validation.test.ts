import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { NotFoundError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { validationIssues } from '../support/validation.ts';

const SUPABASE = 'https://project.supabase.co';
const INPUT = `${SUPABASE}/storage/v1/object/public/bucket/path/image.png`;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
});

const issues = validationIssues;

describe('OpenAI text-to-image', () => {
  const base = { task_id: 'task-1', provider: 'openai', prompt: 'A violet cartoon flying elephant' };

  it('accepts the guide example as written (DALL-E-era fields are translated when sent)', () => {
    const { params, clientTaskId, entry } = validateGeneration('text-to-image', {
      ...base,
      style: 'vivid',
      n: 1,
      size: '1024x1024',
      quality: 'standard',
      unknown_field: 'ignored',
    });
    expect(entry.provider).toBe('openai');
    expect(clientTaskId).toBe('task-1');
    expect(params).toEqual({ ...base, style: 'vivid', n: 1, size: '1024x1024', quality: 'standard' });
  });

  it.each([
    [{ n: 0 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: 5 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: 1.5 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: '2' }, 'n', 'must be an integer between 1 and 4'],
    [{ style: 'loud' }, 'style', 'must be one of: vivid, natural'],
    [{ quality: 'ultra' }, 'quality', 'must be one of: low, medium, high, auto, xhigh, max, standard, hd'],
    [{ size: '1000x1000' }, 'size', 'must have a width and height divisible by 16'],
    [{ size: '3840x1024' }, 'size', 'must have an aspect ratio between 1:3 and 3:1'],
    [{ size: '4096x2160' }, 'size', 'must be at most 3840x2160'],
    [{ size: '512x512' }, 'size', 'must have between 655360 and 8294400 pixels for gpt-image-2.6-flare'],
    [{ size: 'big' }, 'size', 'must be auto, 1024x1024, 1536x1024, 1024x1536 or WIDTHxHEIGHT'],
    [
      { background: 'transparent', output_format: 'jpeg' },
      'output_format',
      'must be png or webp with background "transparent" (JPEG has no transparency)',
    ],
    [
      { model: 'dall-e-3' },
      'model',
      "'dall-e-3' was shut down by OpenAI on 2026-05-12; omit model to use gpt-image-2.6-flare",
    ],
    [{ model: 'midjourney' }, 'model', 'must be an OpenAI GPT image model id, such as gpt-image-2.6-flare'],
    [
      { model: 'gpt-image-1' },
      'model',
      "'gpt-image-1' was shut down by OpenAI on 2026-10-23; omit model to use gpt-image-2.6-flare",
    ],
    [
      { model: 'gpt-image-1.5' },
      'model',
      "'gpt-image-1.5' was shut down by OpenAI on 2026-12-01; omit model to use gpt-image-2.6-flare",
    ],
    [
      { model: 'gpt-image-2', complexity: 'low' },
      'complexity',
      'is supported by gpt-image-2.6 models only, not gpt-image-2',
    ],
    [
      { model: 'gpt-image-2', quality: 'max' },
      'quality',
      '"max" needs gpt-image-2.5 or later; gpt-image-2 takes low, medium, high or auto',
    ],
    [{ prompt: '' }, 'prompt', 'must not be empty'],
    [{ prompt: 'x'.repeat(32001) }, 'prompt', 'must be a string of 1 to 32000 characters'],
    [{ prompt: 42 }, 'prompt', 'must be a string of 1 to 32000 characters'],
    [{ task_id: 'has space' }, 'task_id', 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'],
    [{ task_id: 'x'.repeat(129) }, 'task_id', 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('text-to-image', { ...base, ...change })).toEqual([{ field, message }]);
  });

  it.each([
    { size: '1792x1024', quality: 'hd' },
    { size: '1024x1792' },
    { size: '1536x864', quality: 'xhigh', complexity: 'medium' },
    { size: 'auto', background: 'transparent' },
    { model: 'gpt-image-2', size: '512x512', quality: 'high' },
    { model: 'gpt-image-2.5-sunburst-2026-09-08', quality: 'max' },
  ])('accepts %j', (change) => {
    expect(validateGeneration('text-to-image', { ...base, ...change }).params).toMatchObject(change);
  });

  it('checks sizes against a model chosen per stage', () => {
    process.env.OPENAI_TEXT_TO_IMAGE_MODEL = 'gpt-image-2';
    resetConfig();
    try {
      expect(validateGeneration('text-to-image', { ...base, size: '512x512' }).params.size).toBe('512x512');
      expect(issues('text-to-image', { ...base, complexity: 'high' })).toEqual([
        { field: 'complexity', message: 'is supported by gpt-image-2.6 models only, not gpt-image-2' },
      ]);
    } finally {
      delete process.env.OPENAI_TEXT_TO_IMAGE_MODEL;
      resetConfig();
    }
  });

  it('requires task_id and prompt', () => {
    expect(issues('text-to-image', { provider: 'openai' })).toEqual([
      { field: 'task_id', message: 'is required' },
      { field: 'prompt', message: 'is required' },
    ]);
  });
});

describe('OpenAI image-to-image', () => {
  const base = {
    task_id: 'task-2',
    provider: 'openai',
    prompt: 'A futuristic cityscape',
    input_image_asset_url: INPUT,
  };

  it('accepts the guide example as written', () => {
    for (const size of ['1024x1024', '1792x1024', '1024x1792']) {
      const { params } = validateGeneration('image-to-image', {
        ...base,
        style: 'vivid',
        background: 'transparent',
        n: 2,
        size,
        quality: 'standard',
      });
      expect(params).toMatchObject({ n: 2, background: 'transparent', size });
    }
  });

  it.each([
    'https://evil.example/storage/v1/object/public/bucket/a.png',
    `${SUPABASE}/rest/v1/concept_images`,
    `${SUPABASE}/storage/v1/object/public/`,
    `${SUPABASE}/storage/v1/object/public/../../../rest/v1/x`,
    `https://user:pass@project.supabase.co/storage/v1/object/public/b/a.png`,
    'not a url',
  ])('refuses the input URL %s', (url) => {
    const [issue] = issues('image-to-image', { ...base, input_image_asset_url: url });
    expect(issue?.field).toBe('input_image_asset_url');
    expect(issue?.message).toContain(`${SUPABASE}/storage/v1/object/public/`);
  });

  it('accepts signed URLs of the project', () => {
    const signed = `${SUPABASE}/storage/v1/object/sign/bucket/a.png?token=abc`;
    expect(
      validateGeneration('image-to-image', { ...base, input_image_asset_url: signed }).params
        .input_image_asset_url,
    ).toBe(signed);
  });
});

describe('provider and operation selection', () => {
  it('uses the contract sentence for an unsupported provider', () => {
    expect(() =>
      validateGeneration('text-to-image', { task_id: 't', provider: 'flux', prompt: 'p' }),
    ).toThrow(/^Unsupported provider 'flux' for text-to-image\. Supported providers: openai/);
  });

  it('requires a provider where the operation has no default', () => {
    expect(issues('text-to-image', { task_id: 't', prompt: 'p' })).toEqual([
      { field: 'provider', message: expect.stringMatching(/^is required; one of: /) },
    ]);
  });

  it('answers an unknown operation with NotFoundError', () => {
    expect(() => validateGeneration('make-coffee', {})).toThrow(NotFoundError);
  });

  it('refuses a body that is not an object', () => {
    expect(() => validateGeneration('text-to-image', [1])).toThrow('Request body must be a JSON object');
  });
});

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

  it('accepts the guide example and fills defaults', () => {
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
    expect(params).toEqual({
      ...base,
      style: 'vivid',
      n: 1,
      size: '1024x1024',
      quality: 'standard',
      model: 'dall-e-3',
    });
  });

  it.each([
    [{ n: 0 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: 5 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: 1.5 }, 'n', 'must be an integer between 1 and 4'],
    [{ n: '2' }, 'n', 'must be an integer between 1 and 4'],
    [{ style: 'loud' }, 'style', 'must be one of: vivid, natural'],
    [
      { size: '1536x1024' },
      'size',
      "must be one of: 1024x1024, 1792x1024, 1024x1792 (OpenAI's values for dall-e-3)",
    ],
    [{ quality: 'high' }, 'quality', "must be one of: standard, hd (OpenAI's values for dall-e-3)"],
    [
      { background: 'transparent' },
      'background',
      expect.stringContaining('only supported by the GPT image models'),
    ],
    [
      { model: 'dall-e-2' },
      'model',
      'must be one of: dall-e-3, gpt-image-1, gpt-image-1-mini, gpt-image-1.5',
    ],
    [{ prompt: '' }, 'prompt', 'must not be empty'],
    [{ prompt: 'x'.repeat(4001) }, 'prompt', 'must be at most 4000 characters for dall-e-3'],
    [{ prompt: 42 }, 'prompt', 'must be a string of 1 to 32000 characters'],
    [{ task_id: 'has space' }, 'task_id', 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'],
    [{ task_id: 'x'.repeat(129) }, 'task_id', 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('text-to-image', { ...base, ...change })).toEqual([{ field, message }]);
  });

  it('applies GPT image limits when that model is chosen', () => {
    expect(
      issues('text-to-image', { ...base, model: 'gpt-image-1', size: '1792x1024', quality: 'hd' }),
    ).toEqual([
      {
        field: 'size',
        message: "must be one of: 1024x1024, 1536x1024, 1024x1536, auto (OpenAI's values for gpt-image-1)",
      },
      {
        field: 'quality',
        message: "must be one of: low, medium, high, auto (OpenAI's values for gpt-image-1)",
      },
    ]);
    expect(
      validateGeneration('text-to-image', { ...base, model: 'gpt-image-1', background: 'opaque', n: 4 })
        .params.n,
    ).toBe(4);
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

  it('accepts the guide example', () => {
    const { params } = validateGeneration('image-to-image', {
      ...base,
      style: 'vivid',
      background: 'transparent',
      n: 2,
      size: '1024x1024',
      quality: 'standard',
    });
    expect(params).toMatchObject({ model: 'gpt-image-1', n: 2, background: 'transparent' });
  });

  it('says the provider limit wins over the guide for sizes', () => {
    expect(issues('image-to-image', { ...base, size: '1792x1024' })).toEqual([
      {
        field: 'size',
        message:
          "must be one of: 1024x1024, 1536x1024, 1024x1536, auto (OpenAI's values for gpt-image-1 image edits)",
      },
    ]);
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

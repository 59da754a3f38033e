import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { ProviderRejectedError, ValidationError } from '../../functions/core/errors.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import { trustedPollingUrl } from '../../functions/core/providers/flux/client.ts';

const SUPABASE = 'https://project.supabase.co';
const INPUT = `${SUPABASE}/storage/v1/object/public/bucket/path/image.png`;

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
});

function issues(body: Record<string, unknown>): { field: string; message: string }[] {
  try {
    validateGeneration('image-to-image', body);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a validation error');
}

describe('Flux image-to-image request', () => {
  const base = {
    task_id: 'task-workspace-mno012',
    provider: 'flux',
    prompt: 'A futuristic cityscape at dusk',
    input_image_asset_url: INPUT,
  };

  it('accepts the guide example as written', () => {
    const { entry, clientTaskId, params } = validateGeneration('image-to-image', {
      ...base,
      aspect_ratio: '1:1',
      output_format: 'png',
      safety_tolerance: 2,
      prompt_upsampling: false,
    });
    expect(entry).toMatchObject({ provider: 'flux', mode: 'async', reportsProgress: true });
    expect(clientTaskId).toBe('task-workspace-mno012');
    expect(params).toEqual({
      ...base,
      model: 'flux-kontext-pro',
      aspect_ratio: '1:1',
      output_format: 'png',
      safety_tolerance: 2,
      prompt_upsampling: false,
    });
  });

  it('fills defaults and leaves aspect_ratio and seed unset when the client does', () => {
    const { params } = validateGeneration('image-to-image', base);
    expect(params).toEqual({
      ...base,
      model: 'flux-kontext-pro',
      output_format: 'png',
      safety_tolerance: 2,
      prompt_upsampling: false,
    });
  });

  it.each(['1:1', '16:9', '9:16', '21:9', '2:3', '3:2', '4:5', '5:4'])(
    'accepts the guide aspect ratio %s',
    (ratio) => {
      expect(validateGeneration('image-to-image', { ...base, aspect_ratio: ratio }).params.aspect_ratio).toBe(
        ratio,
      );
    },
  );

  it('accepts Kontext [max], jpeg, the ends of the safety range and a seed', () => {
    const { params } = validateGeneration('image-to-image', {
      ...base,
      model: 'flux-kontext-max',
      output_format: 'jpeg',
      safety_tolerance: 6,
      prompt_upsampling: true,
      seed: 0,
    });
    expect(params).toMatchObject({
      model: 'flux-kontext-max',
      output_format: 'jpeg',
      safety_tolerance: 6,
      prompt_upsampling: true,
      seed: 0,
    });
    expect(
      validateGeneration('image-to-image', { ...base, safety_tolerance: 0 }).params.safety_tolerance,
    ).toBe(0);
  });

  const ratios = 'must be one of: 1:1, 16:9, 9:16, 21:9, 2:3, 3:2, 4:5, 5:4';
  it.each([
    [{ aspect_ratio: '4:3' }, 'aspect_ratio', ratios],
    [{ aspect_ratio: '32:9' }, 'aspect_ratio', ratios],
    [{ aspect_ratio: 1 }, 'aspect_ratio', ratios],
    [{ output_format: 'webp' }, 'output_format', 'must be one of: png, jpeg'],
    [{ output_format: 'jpg' }, 'output_format', 'must be one of: png, jpeg'],
    [{ safety_tolerance: -1 }, 'safety_tolerance', 'must be an integer between 0 and 6'],
    [{ safety_tolerance: 7 }, 'safety_tolerance', 'must be an integer between 0 and 6'],
    [{ safety_tolerance: 2.5 }, 'safety_tolerance', 'must be an integer between 0 and 6'],
    [{ safety_tolerance: '2' }, 'safety_tolerance', 'must be an integer between 0 and 6'],
    [{ prompt_upsampling: 'yes' }, 'prompt_upsampling', 'must be true or false'],
    [{ seed: -1 }, 'seed', `must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}`],
    [{ seed: 1.5 }, 'seed', `must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}`],
    [{ model: 'flux-pro' }, 'model', 'must be one of: flux-kontext-pro, flux-kontext-max'],
    [{ prompt: '   ' }, 'prompt', 'must not be empty'],
    [{ prompt: 'x'.repeat(10_001) }, 'prompt', 'must be a string of 1 to 10000 characters'],
  ])('rejects %j naming the field and the allowed values', (change, field, message) => {
    expect(issues({ ...base, ...change })).toEqual([{ field, message }]);
  });

  it('refuses a seed JSON cannot carry exactly', () => {
    const found = issues({ ...base, seed: 2 ** 53 });
    expect(found.length).toBeGreaterThan(0);
    for (const issue of found) {
      expect(issue).toEqual({
        field: 'seed',
        message: `must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}`,
      });
    }
  });

  it('requires the prompt and the input image', () => {
    expect(issues({ task_id: 't-1', provider: 'flux' })).toEqual([
      { field: 'prompt', message: 'is required' },
      { field: 'input_image_asset_url', message: 'is required' },
    ]);
  });

  it('refuses an input URL outside the project storage', () => {
    const [issue] = issues({ ...base, input_image_asset_url: 'https://cdn.example/a.png' });
    expect(issue?.field).toBe('input_image_asset_url');
    expect(issue?.message).toContain(`${SUPABASE}/storage/v1/object/public/`);
  });

  it('lists every problem in one answer', () => {
    expect(issues({ ...base, aspect_ratio: '4:3', safety_tolerance: 9, output_format: 'gif' })).toEqual([
      { field: 'aspect_ratio', message: ratios },
      { field: 'output_format', message: 'must be one of: png, jpeg' },
      { field: 'safety_tolerance', message: 'must be an integer between 0 and 6' },
    ]);
  });

  it('is not offered for text-to-image', () => {
    expect(() =>
      validateGeneration('text-to-image', { task_id: 't', provider: 'flux', prompt: 'p' }),
    ).toThrow(/^Unsupported provider 'flux' for text-to-image/);
  });
});

describe('Flux polling URL trust', () => {
  const base = 'https://api.bfl.ai';

  it.each([
    'https://api.bfl.ai/v1/get_result?id=abc',
    'https://api.eu1.bfl.ai/v1/get_result?id=abc',
    'https://api.us.bfl.ai/v1/get_result?id=abc',
  ])('uses BFL polling URL %s verbatim', (url) => {
    expect(trustedPollingUrl(url, base)).toBe(url);
  });

  it('accepts the configured origin even over http (the local sandbox)', () => {
    const sandbox = 'http://localhost:8000/__sandbox/flux';
    expect(trustedPollingUrl(`${sandbox}/v1/get_result?id=1`, sandbox)).toBe(
      'http://localhost:8000/__sandbox/flux/v1/get_result?id=1',
    );
  });

  it.each([
    'http://api.bfl.ai/v1/get_result?id=abc',
    'https://attacker.example/v1/get_result?id=abc',
    'https://bfl.ai.attacker.example/v1/get_result?id=abc',
    'https://notbfl.ai/v1/get_result?id=abc',
    'https://user:secret@api.bfl.ai/v1/get_result?id=abc',
    'http://169.254.169.254/latest/meta-data/',
    'not a url',
  ])('refuses %s, to which the key would be sent', (url) => {
    expect(() => trustedPollingUrl(url, base)).toThrow(ProviderRejectedError);
  });
});

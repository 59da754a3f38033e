import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_OPERATIONS } from '../../functions/core/operations/catalogue.ts';
import { samplePng, startTestStack, type TestStack } from '../support/local-stack.ts';

/**
 * Property: whatever a client sends to a generation route (random JSON, valid bodies with one
 * field mutated, broken JSON), the answer is never a 5xx. Deterministic: fixed seed.
 */

let stack: TestStack;
let imageUrl = '';

const FIELDS = [
  'task_id',
  'provider',
  'prompt',
  'n',
  'size',
  'quality',
  'style',
  'background',
  'model',
  'input_image_asset_url',
  'input_image_asset_urls',
  'input_sketch_asset_url',
  'input_mask_asset_url',
  'strength',
  'fidelity',
  'control_strength',
  'grow_mask',
  'seed',
  'output_format',
  'aspect_ratio',
  'style_preset',
  'safety_tolerance',
  'max_size_mb',
  'aspect_ratio_mode',
  'response_format',
  'select_prompt',
];

const PROVIDERS = ['openai', 'stability', 'recraft', 'flux', 'tripo', 'bff'];

beforeAll(async () => {
  stack = await startTestStack({ env: { RATE_LIMIT_GENERATION_PER_MINUTE: '100000' } });
  imageUrl = await stack.upload('uploads/property/input.png', await samplePng(64, 64), 'image/png');
});

afterAll(async () => {
  await stack.runner.idle();
  await stack.stop();
});

function validBase(operation: string, provider: string): Record<string, unknown> {
  return {
    task_id: `prop-${operation}`,
    provider,
    prompt: 'a small test object',
    input_image_asset_url: imageUrl,
    input_image_asset_urls: [imageUrl],
    input_sketch_asset_url: imageUrl,
    input_mask_asset_url: imageUrl,
    select_prompt: 'object',
    max_size_mb: 1,
    aspect_ratio_mode: 'original',
  };
}

const jsonValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  fc.constantFrom('', ' ', '1024x1024', 'auto', 'png', '-1', '1e309', 'https://evil.example/x.png', imageUrl),
);

const body = fc.oneof(
  // Anything at all, JSON-encoded.
  fc.jsonValue().map((value) => JSON.stringify(value)),
  // Known field names with random values.
  fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 8 }).map((value) => JSON.stringify(value)),
  // A plausible body with one field mutated or removed.
  fc
    .record({
      operation: fc.constantFrom(...ALL_OPERATIONS),
      provider: fc.constantFrom(...PROVIDERS),
      field: fc.constantFrom(...FIELDS),
      value: fc.option(jsonValue, { nil: undefined }),
    })
    .map(({ operation, provider, field, value }) => {
      const base = validBase(operation, provider);
      if (value === undefined) delete base[field];
      else base[field] = value;
      return JSON.stringify(base);
    }),
  // Not JSON.
  fc.string().map((text) => `{${text}`),
);

describe('generation routes', () => {
  it('never answer 5xx, whatever the body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/generation', '/generate'),
        fc.constantFrom(...ALL_OPERATIONS),
        body,
        async (prefix, operation, text) => {
          const response = await stack.call(`${prefix}/${operation}`, { body: text });
          await response.arrayBuffer();
          expect(response.status, `${prefix}/${operation} ${text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300, seed: 20261127 },
    );
  });
});

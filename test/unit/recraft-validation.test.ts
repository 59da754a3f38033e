import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { InputInvalidError, InputTooLargeError } from '../../functions/core/errors.ts';
import { encodeImage } from '../../functions/core/images/codecs.ts';
import { validateGeneration } from '../../functions/core/operations/validate-request.ts';
import {
  CRISP_UPSCALE_LIMITS,
  checkInputImage,
  checkMask,
  EDIT_LIMITS,
} from '../../functions/core/providers/recraft/input-image.ts';
import type { FetchedInput } from '../../functions/core/storage/input-fetcher.ts';
import { validationIssues } from '../support/validation.ts';

const SUPABASE = 'https://project.supabase.co';
const INPUT = `${SUPABASE}/storage/v1/object/public/bucket/path/image.png`;
const MASK = `${SUPABASE}/storage/v1/object/public/bucket/path/mask.png`;
const STYLE_UUID = '229b2a75-05e4-4580-85f9-b47ee521a00d';

beforeAll(() => {
  process.env.SUPABASE_URL = SUPABASE;
  resetConfig();
});

const issues = validationIssues;

const V4_REFUSAL = "Recraft's V4 models take no style, substyle or negative_prompt (recraftv3 does)";
const V3_SIZES =
  '1024x1024, 2048x1024, 1024x2048, 1536x1024, 1024x1536, 1365x1024, 1024x1365, 1280x1024, 1024x1280, 1024x1707, 1434x1024, 1024x1434, 1820x1024, 1024x1820';

describe('Recraft text-to-image', () => {
  /** The guide's example, as written. */
  const example = {
    task_id: 'task-workspace-jkl012',
    provider: 'recraft',
    prompt: 'A violet cartoon flying elephant with big ears',
    style: 'digital_illustration',
    substyle: 'hand_drawn',
    n: 1,
    model: 'recraftv3',
    response_format: 'url',
    size: '1024x1024',
    style_id: 'custom_style_456',
  };
  const base = { task_id: 't2i-1', provider: 'recraft', prompt: 'A violet cartoon flying elephant' };

  it('accepts the guide example as written', () => {
    const { entry, params, clientTaskId } = validateGeneration('text-to-image', { ...example, extra: 1 });
    expect(entry.provider).toBe('recraft');
    expect(clientTaskId).toBe('task-workspace-jkl012');
    expect(params).toEqual(example);
  });

  it('adds no defaults to the request (the adapter records the ones it applies)', () => {
    expect(validateGeneration('text-to-image', base).params).toEqual(base);
  });

  it.each([
    [{ size: '16:9' }],
    [{ size: '1820x1024' }],
    [{ model: 'recraftv4_1', size: '1344x768' }],
    [{ model: 'recraftv4_pro', size: '2048x2048' }],
    [{ model: 'recraftv2', style: 'digital_illustration', substyle: 'pixel_art' }],
    [{ style_id: STYLE_UUID }],
    [{ model: 'recraftv4', style_id: STYLE_UUID }],
    [{ negative_prompt: 'blurry', n: 6, response_format: 'b64_json' }],
    [{ model: 'recraftv4_1', prompt: 'x'.repeat(10_000) }],
  ])('accepts %j', (change) => {
    expect(() => validateGeneration('text-to-image', { ...base, ...change })).not.toThrow();
  });

  it.each([
    [{ n: 0 }, 'n', 'must be an integer between 1 and 6'],
    [{ n: 7 }, 'n', 'must be an integer between 1 and 6'],
    [{ n: 1.5 }, 'n', 'must be an integer between 1 and 6'],
    [{ n: '2' }, 'n', 'must be an integer between 1 and 6'],
    [
      { model: 'recraftv3_vector' },
      'model',
      'must be one of: recraftv3, recraftv2, recraftv4, recraftv4_pro, recraftv4_1, recraftv4_1_pro',
    ],
    [{ response_format: 'png' }, 'response_format', 'must be one of: url, b64_json'],
    [
      { style: 'vivid' },
      'style',
      "must be one of: any, realistic_image, digital_illustration, logo_raster (Recraft's raster styles for recraftv3)",
    ],
    [
      { style: 'vector_illustration' },
      'style',
      "must be one of: any, realistic_image, digital_illustration, logo_raster (Recraft's raster styles for recraftv3; vector_illustration answers SVG, which the BFF does not keep)",
    ],
    [
      { model: 'recraftv2', style: 'logo_raster' },
      'style',
      "must be one of: any, realistic_image, digital_illustration (Recraft's raster styles for recraftv2)",
    ],
    [
      { size: '1792x1024' },
      'size',
      `must be one of: ${V3_SIZES} (Recraft's sizes for recraftv3; the aspect forms 1:1, 2:1, 1:2, 3:2, 2:3, 4:3, 3:4, 5:4, 4:5, 6:10, 14:10, 10:14, 16:9, 9:16 are accepted too)`,
    ],
    [
      { model: 'recraftv4_1', size: '1365x1024' },
      'size',
      expect.stringMatching(/^must be one of: 1024x1024, 1536x768, .*recraftv4_1/),
    ],
    [
      { model: 'recraftv4_1_pro', size: '1024x1024' },
      'size',
      expect.stringMatching(/^must be one of: 2048x2048, /),
    ],
    [{ size: 1024 }, 'size', 'must be a string such as 1024x1024 or 1:1'],
    [
      { model: 'recraftv4_1', style: 'realistic_image' },
      'style',
      `is not supported by recraftv4_1: ${V4_REFUSAL}`,
    ],
    [
      { model: 'recraftv4', negative_prompt: 'blur' },
      'negative_prompt',
      `is not supported by recraftv4: ${V4_REFUSAL}`,
    ],
    [
      { model: 'recraftv4_pro', substyle: 'hdr' },
      'substyle',
      `is not supported by recraftv4_pro: ${V4_REFUSAL}`,
    ],
    [{ substyle: 'hand_drawn' }, 'substyle', 'requires style: a substyle refines one of the style values'],
    [
      { style: 'realistic_image', substyle: 'Black & White' },
      'substyle',
      'must be a Recraft substyle name such as b_and_w or hand_drawn (lowercase letters, digits, _)',
    ],
    [
      { style_id: 'my-style' },
      'style_id',
      'must be a Recraft style id (a UUID such as 229b2a75-05e4-4580-85f9-b47ee521a00d)',
    ],
    [
      { style: 'realistic_image', style_id: STYLE_UUID },
      'style_id',
      'cannot be combined with style: Recraft takes one or the other',
    ],
    [
      { prompt: 'x'.repeat(1001) },
      'prompt',
      'must be at most 1000 characters for recraftv3 (10000 for the V4 models)',
    ],
    [
      { model: 'recraftv4_1', prompt: 'x'.repeat(10_001) },
      'prompt',
      'must be a string of 1 to 10000 characters',
    ],
    [{ prompt: '   ' }, 'prompt', 'must not be empty'],
    [{ negative_prompt: 'x'.repeat(1001) }, 'negative_prompt', 'must be a string of 1 to 1000 characters'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('text-to-image', { ...base, ...change })).toEqual([{ field, message }]);
  });

  it('lists every problem in one answer', () => {
    const found = issues('text-to-image', {
      ...base,
      model: 'recraftv4_1',
      style: 'realistic_image',
      negative_prompt: 'blur',
      n: 9,
      size: '1365x1024',
    });
    expect(found.map((problem) => problem.field).sort()).toEqual(['n', 'negative_prompt', 'size', 'style']);
  });

  it('names the missing prompt', () => {
    expect(issues('text-to-image', { task_id: 't', provider: 'recraft' })).toEqual([
      { field: 'prompt', message: 'is required' },
    ]);
  });
});

describe('Recraft image-to-image', () => {
  /** The guide's example, with its input URL on the configured project. */
  const example = {
    task_id: 'task-workspace-ghi789',
    provider: 'recraft',
    prompt: 'A futuristic cityscape at dusk',
    input_image_asset_url: INPUT,
    style: 'realistic_image',
    substyle: 'b_and_w',
    strength: 0.3,
    negative_prompt: 'cartoon, anime',
    n: 2,
    model: 'recraftv3',
    response_format: 'url',
    style_id: 'custom_style_123',
  };
  const base = { task_id: 'i2i-1', provider: 'recraft', prompt: 'winter', input_image_asset_url: INPUT };

  it('accepts the guide example as written', () => {
    expect(validateGeneration('image-to-image', example).params).toEqual(example);
  });

  it.each([[{ strength: 0 }], [{ strength: 1 }], [{ model: 'recraftv4_1' }], [{ model: 'recraftv4_1_pro' }]])(
    'accepts %j',
    (change) => {
      expect(() => validateGeneration('image-to-image', { ...base, ...change })).not.toThrow();
    },
  );

  it.each([
    [{ strength: -0.1 }, 'strength', 'must be a number between 0 and 1'],
    [{ strength: 1.5 }, 'strength', 'must be a number between 0 and 1'],
    [{ strength: '0.3' }, 'strength', 'must be a number between 0 and 1'],
    [{ n: 7 }, 'n', 'must be an integer between 1 and 6'],
    [
      { model: 'recraftv2' },
      'model',
      'must be one of: recraftv3, recraftv4, recraftv4_pro, recraftv4_1, recraftv4_1_pro',
    ],
    [
      { model: 'recraftv4', style: 'realistic_image' },
      'style',
      `is not supported by recraftv4: ${V4_REFUSAL}`,
    ],
    [
      { model: 'recraftv4_1', negative_prompt: 'cartoon' },
      'negative_prompt',
      `is not supported by recraftv4_1: ${V4_REFUSAL}`,
    ],
    [{ style: 'icon' }, 'style', expect.stringContaining('icon answers SVG')],
    [
      { style: 'digital_illustration', style_id: STYLE_UUID },
      'style_id',
      'cannot be combined with style: Recraft takes one or the other',
    ],
    [
      { prompt: 'x'.repeat(1001) },
      'prompt',
      'must be at most 1000 characters for recraftv3 (10000 for the V4 models)',
    ],
    [
      { input_image_asset_url: 'https://elsewhere.example/image.png' },
      'input_image_asset_url',
      `must be a Supabase Storage object URL of this project, starting with ${SUPABASE}/storage/v1/object/public/ (or …/object/sign/)`,
    ],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('image-to-image', { ...base, ...change })).toEqual([{ field, message }]);
  });

  it('requires the input image', () => {
    expect(issues('image-to-image', { task_id: 't', provider: 'recraft', prompt: 'p' })).toEqual([
      { field: 'input_image_asset_url', message: 'is required' },
    ]);
  });
});

describe('Recraft image-inpaint', () => {
  /** The contract's row (the guide has no inpaint example): every field it lists. */
  const example = {
    task_id: 'task-workspace-inpaint-1',
    provider: 'recraft',
    prompt: 'A red balloon in the sky',
    input_image_asset_url: INPUT,
    input_mask_asset_url: MASK,
    negative_prompt: 'blurry',
    n: 2,
    style: 'realistic_image',
    substyle: 'natural_light',
    model: 'recraftv3',
  };
  const base = {
    task_id: 'inpaint-1',
    provider: 'recraft',
    prompt: 'a balloon',
    input_image_asset_url: INPUT,
    input_mask_asset_url: MASK,
  };

  it('accepts the contract example', () => {
    expect(validateGeneration('image-inpaint', example).params).toEqual(example);
    expect(() =>
      validateGeneration('image-inpaint', { ...base, style_id: STYLE_UUID, response_format: 'b64_json' }),
    ).not.toThrow();
  });

  it.each([
    [{ n: 0 }, 'n', 'must be an integer between 1 and 6'],
    [{ n: 7 }, 'n', 'must be an integer between 1 and 6'],
    [{ model: 'recraftv4_1', substyle: 'hdr' }, 'substyle', `is not supported by recraftv4_1: ${V4_REFUSAL}`],
    [
      { style: 'realistic_image', style_id: STYLE_UUID },
      'style_id',
      expect.stringContaining('cannot be combined'),
    ],
    [{ style_id: 'custom_style_789' }, 'style_id', expect.stringContaining('must be a Recraft style id')],
    [
      { input_mask_asset_url: 'ftp://x/mask.png' },
      'input_mask_asset_url',
      expect.stringContaining('Supabase Storage'),
    ],
    [{ response_format: 'webp' }, 'response_format', 'must be one of: url, b64_json'],
  ])('rejects %j naming the field', (change, field, message) => {
    expect(issues('image-inpaint', { ...base, ...change })).toEqual([{ field, message }]);
  });

  it('requires the mask and the prompt', () => {
    const { input_mask_asset_url: _mask, prompt: _prompt, ...rest } = base;
    expect(issues('image-inpaint', rest)).toEqual([
      { field: 'prompt', message: 'is required' },
      { field: 'input_mask_asset_url', message: 'is required' },
    ]);
  });
});

describe('Recraft remove-background and upscale', () => {
  const removeExample = {
    task_id: 'task-workspace-stu901',
    provider: 'recraft',
    input_image_asset_url: INPUT,
    response_format: 'url',
  };
  const upscaleExample = {
    task_id: 'upscale-recraft-001',
    provider: 'recraft',
    input_image_asset_url: INPUT,
    model: 'crisp',
    response_format: 'url',
  };

  it('accepts the guide examples as written', () => {
    expect(validateGeneration('remove-background', removeExample).params).toEqual(removeExample);
    expect(validateGeneration('upscale', upscaleExample).params).toEqual(upscaleExample);
  });

  it.each([
    [
      'remove-background',
      { ...removeExample, response_format: 'file' },
      'response_format',
      'must be one of: url, b64_json',
    ],
    ['upscale', { ...upscaleExample, model: 'creative' }, 'model', 'must be one of: crisp'],
    [
      'upscale',
      { ...upscaleExample, response_format: 'png' },
      'response_format',
      'must be one of: url, b64_json',
    ],
    [
      'upscale',
      { ...upscaleExample, input_image_asset_url: undefined },
      'input_image_asset_url',
      'is required',
    ],
  ])('%s rejects %j naming the field', (operation, body, field, message) => {
    expect(issues(operation, body)).toEqual([{ field, message }]);
  });

  it('is the provider of every Recraft operation of the contract', () => {
    for (const operation of [
      'text-to-image',
      'image-to-image',
      'image-inpaint',
      'remove-background',
      'upscale',
    ]) {
      expect(issues(operation, { task_id: 't', provider: 'nope' })[0]?.message).toContain('recraft');
    }
  });
});

/** A solid or two-tone image as PNG; `grey` paints one pixel mid-grey. */
async function png(width: number, height: number, options: { split?: boolean; grey?: boolean } = {}) {
  const data = new Uint8Array(width * height * 4);
  for (let index = 0; index < width * height; index++) {
    const value = options.split && index % width < width / 2 ? 255 : 0;
    data.set([value, value, value, 255], index * 4);
  }
  if (options.grey) data.set([128, 128, 128, 255], (5 * width + 7) * 4);
  return encodeImage({ data, width, height }, 'png');
}

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected an error');
}

function fetched(field: string, bytes: Buffer): FetchedInput {
  return { field, url: `${SUPABASE}/x`, bytes, contentType: 'image/png', filename: 'x.png' };
}

/** A PNG header that claims a size (the checks read the header only). */
function pngHeader(width: number, height: number): Buffer {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'ascii');
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  return header;
}

describe('Recraft input limits', () => {
  const edit = { tool: 'image to image', ...EDIT_LIMITS };

  it('passes an image within the limits, with its type and size', async () => {
    const checked = checkInputImage(fetched('input_image_asset_url', await png(256, 300)), edit);
    expect(checked).toMatchObject({ contentType: 'image/png', extension: 'png', width: 256, height: 300 });
  });

  it.each([
    [
      pngHeader(255, 512),
      'is 255x512, which Recraft image to image does not take: each side must be between 256 and 4,096 pixels (16 MP at most)',
    ],
    [
      pngHeader(4097, 300),
      'is 4097x300, which Recraft image to image does not take: each side must be between 256 and 4,096 pixels (16 MP at most)',
    ],
    [
      Buffer.from('GIF89a\x01\x00\x01\x00'),
      'must be a PNG, JPEG or WebP image for Recraft image to image (it is GIF)',
    ],
    [Buffer.from('not an image at all'), 'must be a PNG, JPEG or WebP image for Recraft image to image'],
    [pngHeader(0, 300), 'is not a readable PNG image'],
  ])('refuses input %# as invalid', (bytes, message) => {
    const error = thrown(() => checkInputImage(fetched('input_image_asset_url', bytes), edit));
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toBe(`input_image_asset_url ${message}`);
  });

  it('takes the largest image Recraft does: 4096 x 4096, its 16 MP', () => {
    expect(checkInputImage(fetched('input_image_asset_url', pngHeader(4096, 4096)), edit)).toMatchObject({
      width: 4096,
      height: 4096,
    });
  });

  it('lets crisp upscale take sides down to 32 px, but not below', () => {
    const upscale = { tool: 'crisp upscale', ...CRISP_UPSCALE_LIMITS };
    expect(() => checkInputImage(fetched('input_image_asset_url', pngHeader(32, 40)), upscale)).not.toThrow();
    expect(() => checkInputImage(fetched('input_image_asset_url', pngHeader(31, 40)), upscale)).toThrow(
      /each side must be between 32 and 4,096 pixels/,
    );
  });

  it('refuses files over 10 MB as too large', () => {
    const big = Buffer.concat([pngHeader(1000, 1000), Buffer.alloc(10 * 1024 * 1024)]);
    const error = thrown(() => checkInputImage(fetched('input_image_asset_url', big), edit));
    expect(error).toBeInstanceOf(InputTooLargeError);
    expect(error.message).toBe(
      'input_image_asset_url is 10.0 MB; Recraft image to image takes images under 10 MB',
    );
  });

  it('passes a pure black-and-white mask of the image size', async () => {
    const image = checkInputImage(fetched('input_image_asset_url', await png(256, 256)), edit);
    const mask = checkInputImage(fetched('input_mask_asset_url', await png(256, 256, { split: true })), edit);
    await expect(checkMask(mask, image)).resolves.toBeUndefined();
  });

  it('refuses a mask of another size', async () => {
    const image = checkInputImage(fetched('input_image_asset_url', await png(256, 256)), edit);
    const mask = checkInputImage(fetched('input_mask_asset_url', await png(320, 256, { split: true })), edit);
    await expect(checkMask(mask, image)).rejects.toThrow(
      new InputInvalidError(
        'input_mask_asset_url must have exactly the size of input_image_asset_url (256x256); it is 320x256',
      ),
    );
  });

  it('refuses a mask with a grey pixel, saying where', async () => {
    const image = checkInputImage(fetched('input_image_asset_url', await png(256, 256)), edit);
    const mask = checkInputImage(fetched('input_mask_asset_url', await png(256, 256, { grey: true })), edit);
    await expect(checkMask(mask, image)).rejects.toThrow(
      new InputInvalidError(
        'input_mask_asset_url must be pure black and white (0 = keep, 255 = regenerate); 1 pixels are grey or coloured, the first at (7, 5)',
      ),
    );
  });
});

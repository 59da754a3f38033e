import type { ProviderSettings } from '../provider-settings.ts';

/**
 * Every Recraft tool the BFF sends an image to: PNG, JPEG or WebP, under 10 MB, up to 16 MP, each
 * side at most 4096 px; 4096 x 4096 is exactly 16 MP (16,777,216 px), so the side limit implies
 * the pixel limit. The smallest side differs per tool.
 */
const RECRAFT_IMAGE = {
  formats: ['png', 'jpeg', 'webp'],
  maxBytes: 10 * 1024 * 1024,
  maxSide: 4096,
  maxPixels: 4096 * 4096,
  source:
    'https://www.recraft.ai/docs/api-reference/tools/image-to-image.md, …/tools/inpainting.md, …/tools/upscale, …/tools/remove-background.md, checked 2026-12-02',
} as const;

/**
 * Recraft. Checked 2026-12-02 against https://www.recraft.ai/docs/api-reference/models: the
 * server's default model is now `recraftv4_1`, which refuses `style`, `substyle` and
 * `negative_prompt`, so the BFF always sends a model; `recraftv3` takes every field the guide
 * lists and is the only line for inpainting and background operations
 * (https://www.recraft.ai/docs/api-reference/models/recraft-v3.md).
 */
export const recraftSettings = {
  name: 'recraft',
  label: 'Recraft',
  keyEnv: 'RECRAFT_API_KEY',
  baseUrl: {
    env: 'RECRAFT_BASE_URL',
    default: 'https://external.api.recraft.ai',
    source: 'https://www.recraft.ai/docs/api-reference, checked 2026-12-02',
  },
  models: {
    generation: {
      env: 'RECRAFT_MODEL',
      default: 'recraftv3',
      operations: ['text-to-image', 'image-to-image', 'image-inpaint'],
      source: 'https://www.recraft.ai/docs/api-reference/models/recraft-v3.md, checked 2026-12-02',
    },
  },
  limits: {},
  inputImages: {
    'image-to-image': { service: 'Recraft image to image', ...RECRAFT_IMAGE, minSide: 256 },
    'image-inpaint': { service: 'Recraft inpainting', ...RECRAFT_IMAGE, minSide: 256 },
    'remove-background': { service: 'Recraft remove background', ...RECRAFT_IMAGE, minSide: 256 },
    // Crisp upscale takes smaller images than the other tools.
    upscale: { service: 'Recraft crisp upscale', ...RECRAFT_IMAGE, minSide: 32 },
  },
  sandbox: { apiPath: '' },
} as const satisfies ProviderSettings;

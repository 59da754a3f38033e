import type { ProviderSettings } from '../provider-settings.ts';

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
  sandbox: { apiPath: '' },
} as const satisfies ProviderSettings;

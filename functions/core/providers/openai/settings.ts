import type { ProviderSettings } from '../provider-settings.ts';

/**
 * OpenAI Images. Models checked 2026-12-02 against OpenAI's deprecations page
 * (https://developers.openai.com/api/docs/deprecations); the ids it lists as shut down are in
 * `retired` below with their dates. The named replacements are `gpt-image-2.6-sunburst`
 * ("image editing") and `gpt-image-2.6-flare` ("fast, high-quality everyday image generation",
 * https://developers.openai.com/api/docs/guides/image-generation?model=gpt-image-2.6).
 */
export const openaiSettings = {
  name: 'openai',
  label: 'OpenAI',
  keyEnv: 'OPENAI_API_KEY',
  baseUrl: {
    env: 'OPENAI_BASE_URL',
    default: 'https://api.openai.com/v1',
    source: 'openai-node src/client.ts default baseURL, checked 2026-12-02',
  },
  models: {
    textToImage: {
      env: 'OPENAI_TEXT_TO_IMAGE_MODEL',
      default: 'gpt-image-2.6-flare',
      operations: ['text-to-image'],
      source: 'OpenAI deprecations page and image-generation guide, checked 2026-12-02',
    },
    imageToImage: {
      env: 'OPENAI_IMAGE_TO_IMAGE_MODEL',
      default: 'gpt-image-2.6-sunburst',
      operations: ['image-to-image'],
      source: 'OpenAI deprecations page and image-generation guide, checked 2026-12-02',
    },
  },
  retired: {
    'dall-e-2': '2026-05-12', // shut down (retired)
    'dall-e-3': '2026-05-12', // shut down (retired)
    'gpt-image-1': '2026-10-23', // shut down (retired)
    'gpt-image-1-mini': '2026-12-01', // shut down (retired)
    'gpt-image-1.5': '2026-12-01', // shut down (retired)
    'gpt-image-1.5-2025-12-16': '2026-12-01', // shut down (retired)
    'chatgpt-image-latest': '2026-12-01', // shut down (retired)
  },
  limits: {
    /** GPT image models: prompts up to 32,000 characters (openai-node images.ts, 2026-08-21). */
    promptCharacters: 32_000,
    /** The guide allows 1–4 images per request; OpenAI takes 1–10 in one request. */
    images: 4,
  },
  inputImages: {
    'image-to-image': {
      service: 'OpenAI image edits',
      formats: ['png', 'jpeg', 'webp'],
      // "less than 50MB" per image; read as 50,000,000 bytes, the stricter of the two readings.
      maxBytes: 50_000_000 - 1,
      // OpenAI publishes no pixel or side limit for edit inputs. The cap is this service's own
      // input limit (50 megapixels, the most any step here decodes), so an image claiming more is
      // refused here rather than sent for OpenAI to decode.
      maxPixels: 50_000_000,
      source:
        "openai-node src/resources/images.ts `image` (png/webp/jpg, < 50MB; no pixel limit published), checked 2026-12-02; pixels: this service's 50 MP input cap",
    },
  },
  sandbox: { apiPath: '/v1' },
} as const satisfies ProviderSettings;

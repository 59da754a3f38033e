import type { ProviderSettings } from '../provider-settings.ts';

const SPEC = 'Stability OpenAPI spec (tryAGI/StabilityAI @016c91b openapi.yaml), checked 2026-12-02';

/**
 * Every image service takes PNG, JPEG or WebP in a multipart body Stability refuses over 10 MiB
 * (413 `payload_too_large`); the text fields need a little of that.
 */
const STABILITY_IMAGE_BODY = {
  formats: ['png', 'jpeg', 'webp'],
  maxBytes: 10 * 1024 * 1024 - 64 * 1024,
  bytesReason: 'its requests are limited to 10 MiB',
} as const;

/** Control and most edit services: sides ≥ 64, 4,096–9,437,184 px, aspect 1:2.5–2.5:1. */
const CONTROL_IMAGE = { minSide: 64, minPixels: 4_096, maxPixels: 9_437_184, maxAspect: 2.5 } as const;

/**
 * Stability AI REST v2beta. Checked 2026-12-02 against Stability's OpenAPI spec
 * (https://api.stability.ai/v2alpha/openapi, as vendored in tryAGI/StabilityAI @016c91b): every
 * path the BFF calls is still listed, none deprecated; the endpoint names the model, so there is
 * no model setting.
 */
export const stabilitySettings = {
  name: 'stability',
  label: 'Stability AI',
  keyEnv: 'STABILITY_API_KEY',
  baseUrl: {
    env: 'STABILITY_BASE_URL',
    default: 'https://api.stability.ai',
    source: 'Stability OpenAPI spec servers, checked 2026-12-02',
  },
  models: {},
  limits: {},
  inputImages: {
    'image-to-image': {
      service: 'Stability AI style control',
      ...STABILITY_IMAGE_BODY,
      ...CONTROL_IMAGE,
      // control/style's own image rule was not re-read; control/sketch's is assumed.
      source: `${SPEC}, /v2beta/stable-image/control/sketch \`image\` (control/style assumed the same)`,
    },
    'sketch-to-image': {
      service: 'Stability AI sketch control',
      ...STABILITY_IMAGE_BODY,
      ...CONTROL_IMAGE,
      source: `${SPEC}, /v2beta/stable-image/control/sketch \`image\``,
    },
    'search-and-recolor': {
      service: 'Stability AI search and recolor',
      ...STABILITY_IMAGE_BODY,
      ...CONTROL_IMAGE,
      source: `${SPEC}, /v2beta/stable-image/edit/search-and-recolor \`image\``,
    },
    'remove-background': {
      service: 'Stability AI background removal',
      ...STABILITY_IMAGE_BODY,
      minSide: 64,
      minPixels: 4_096,
      maxPixels: 4_194_304,
      source: `${SPEC}, /v2beta/stable-image/edit/remove-background \`image\``,
    },
    upscale: {
      service: 'Stability AI fast upscale',
      ...STABILITY_IMAGE_BODY,
      minSide: 32,
      maxSide: 1_536,
      minPixels: 1_024,
      maxPixels: 1_048_576,
      source: `${SPEC}, /v2beta/stable-image/upscale/fast \`image\``,
    },
    'image-to-model': {
      service: 'Stability AI SPAR3D',
      ...STABILITY_IMAGE_BODY,
      // The same rule as Stable Fast 3D.
      minSide: 64,
      minPixels: 4_096,
      maxPixels: 4_194_304,
      source: `${SPEC}, /v2beta/3d/stable-point-aware-3d \`image\``,
    },
  },
  sandbox: { apiPath: '' },
} as const satisfies ProviderSettings;

import type { PollPacing } from '../../operations/provider-operation.ts';
import type { ProviderSettings } from '../provider-settings.ts';

/**
 * Black Forest Labs. Checked 2026-12-02 against https://docs.bfl.ai/kontext/kontext_image_editing
 * and black-forest-labs/skills @d0793c84 (references/endpoints.md): `/v1/flux-kontext-pro` and
 * `/v1/flux-kontext-max` are still documented with no shutdown date (BFL recommends FLUX.2 for
 * new editing work; FLUX.2 takes width/height instead of aspect_ratio, so it is not a drop-in
 * model change).
 */
export const fluxSettings = {
  name: 'flux',
  label: 'Flux (Black Forest Labs)',
  keyEnv: 'BFL_API_KEY',
  baseUrl: {
    env: 'BFL_BASE_URL',
    default: 'https://api.bfl.ai',
    source: 'https://docs.bfl.ai/api_integration/integration_guidelines, checked 2026-12-02',
  },
  models: {
    imageToImage: {
      env: 'BFL_IMAGE_TO_IMAGE_MODEL',
      default: 'flux-kontext-pro',
      operations: ['image-to-image'],
      source: 'https://docs.bfl.ai/kontext/kontext_image_editing, checked 2026-12-02',
    },
  },
  limits: {},
  inputImages: {
    'image-to-image': {
      service: 'Flux Kontext',
      formats: ['png', 'jpeg', 'webp'],
      // BFL's Kontext pages state no input size; resellers cite 20 MB and 20 megapixels
      // (unconfirmed). The stricter, decimal reading of both is the cap: a conservative bound that
      // still takes any phone photo up to 20 MP.
      maxBytes: 20_000_000,
      maxPixels: 20_000_000,
      source:
        'https://docs.bfl.ai/kontext/kontext_image_editing (no size stated), 20 MB / 20 MP as third parties cite it, checked 2026-12-02',
    },
  },
  sandbox: { apiPath: '' },
} as const satisfies ProviderSettings;

/**
 * How a Kontext job is polled (functions/core/workflow/poll-schedule.ts). BFL documents polling
 * `polling_url` until a final status but states no interval or per-task limit
 * (https://docs.bfl.ai/api-reference/utility/get-result, checked 2026-12). Not provider facts,
 * this service's choices: Kontext edits finish in seconds, so the first poll comes after about
 * 5 s; never more often than every 2 s, since polling faster saves under 2 s on a result and a
 * job stuck until its 10-minute deadline would otherwise cost hundreds of state transitions; at
 * most 30 s apart, which bounds the delay a long queue adds after the image is ready.
 */
export const fluxPolling = {
  typicalSeconds: 10,
  minWaitSeconds: 2,
  maxWaitSeconds: 30,
} as const satisfies PollPacing;

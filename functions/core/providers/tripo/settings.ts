import type { PollPacing } from '../../operations/provider-operation.ts';
import type { ProviderSettings } from '../provider-settings.ts';

const IMAGE_UPLOAD_BYTES = 20 * 1000 * 1000;

/**
 * Tripo API v3. Tripo shut its v2 API (api.tripo3d.ai/v2/openapi) down on 2026-10-31 and retired
 * refine and stylize (tripo-python-sdk v1.0.0 release notes, 2026-10-14,
 * https://github.com/Tripo-Developer/tripo-python-sdk/releases/tag/v1.0.0). The v3 host,
 * endpoints and models are from Tripo's official SDKs (github.com/VAST-AI-Research/tripo-js-sdk
 * README and src/client.js; tripo-go-sdk client.go) and its agent skill
 * (VAST-AI-Research/Tripo3D-Plugin-dsh, skills/tripo-3d/SKILL.md), all checked 2026-12-02.
 * docs/providers/tripo.md lists each fact with its source and what could not be confirmed.
 */
export const tripoSettings = {
  name: 'tripo',
  label: 'Tripo',
  keyEnv: 'TRIPO_API_KEY',
  baseUrl: {
    env: 'TRIPO_BASE_URL',
    // The international host. Keys belong to one region: a China-region key needs
    // https://openapi.tripo3d.com/v3 (the official JS and Go SDKs default to that one).
    default: 'https://openapi.tripo3d.ai/v3',
    source: 'tripo-js-sdk README, tripo-go-sdk client.go, checked 2026-12-02',
  },
  models: {
    generation: {
      env: 'TRIPO_MODEL',
      default: 'v3.1-20260211',
      operations: ['text-to-model', 'image-to-model'],
      source: 'Tripo3D-Plugin-dsh skills/tripo-3d/SKILL.md ("H3.1, recommended"), checked 2026-12-02',
    },
    texture: {
      env: 'TRIPO_TEXTURE_MODEL',
      default: 'v3.0-20250812',
      operations: ['refine-model'],
      source:
        'Tripo3D-Plugin-dsh SKILL.md and ComfyUI-Tripo v2.0.0 notes (texture default), checked 2026-12-02',
    },
  },
  retired: {
    // Hosts (a base URL starting with one of these is refused before any call).
    'https://api.tripo3d.ai/v2': '2026-10-31', // shut down (retired)
    'https://api.tripo3d.com/v2': '2026-10-31', // shut down (retired)
    // Generation models Tripo answers with 2015 "The version has been deprecated" or no longer
    // lists (Comfy-Org/ComfyUI PR #15851, live-tested 2026-08-24; SKILL.md, checked 2026-12-02).
    'v2.0-20240919': 'before 2026-08-24',
    'Turbo-v1.0-20250506': 'before 2026-08-24',
    'v1.4-20240625': '2026-10-31',
    'v1.3-20240522': '2026-10-31',
  },
  limits: {
    promptCharacters: 1024,
    negativePromptCharacters: 255,
    /** POST /files: images up to 20 MB, models up to 150 MB (tryAGI/Tripo openapi.yaml; SKILL.md). */
    imageUploadBytes: IMAGE_UPLOAD_BYTES,
    modelUploadBytes: 150 * 1000 * 1000,
  },
  inputImages: {
    'image-to-model': {
      service: 'Tripo image to model',
      formats: ['png', 'jpeg', 'webp'],
      maxBytes: IMAGE_UPLOAD_BYTES,
      // 20–6000 px a side is the v2 docs' rule; v3 readings only recommend at least 256 x 256.
      // 6000 x 6000 is the most pixels the side rule allows.
      minSide: 20,
      maxSide: 6000,
      maxPixels: 6000 * 6000,
      source:
        'tryAGI/Tripo openapi.yaml (POST /files: images ≤ 20 MB), Tripo v2 docs (image sides 20–6000 px), checked 2026-12-02',
    },
  },
  sandbox: { apiPath: '/v3', key: 'tsk_sandbox' },
} as const satisfies ProviderSettings;

/**
 * How Tripo tasks are polled (functions/core/workflow/poll-schedule.ts). Tripo's task-query page
 * allows at most one request a second per task (developers.tripo3d.ai/en/docs task-query, as
 * quoted by third-party readings of it; the official JS and Go SDKs poll every 2 s), checked
 * 2026-12: the floor is 2 s. Tripo publishes no typical duration in the sources we could read;
 * `typicalSeconds` is this service's estimate (a generation takes a minute or more, up to ~10
 * minutes with detailed textures). The 60 s ceiling bounds the delay between a long task ending
 * and the task showing it, and keeps a 10-minute task near a dozen polls.
 */
export const tripoGenerationPolling = {
  typicalSeconds: 60,
  minWaitSeconds: 2,
  maxWaitSeconds: 60,
} as const satisfies PollPacing;

/** Re-texturing (`/models/texture`) takes a few minutes; the same rate rules apply. */
export const tripoTexturePolling = {
  typicalSeconds: 60,
  minWaitSeconds: 2,
  maxWaitSeconds: 60,
} as const satisfies PollPacing;

/**
 * Tripo's webhooks (docs/providers/tripo.md, Webhooks): the URL is registered in Tripo's
 * developer console (one per account, no API), and every delivery is signed with the `whsec_…`
 * secret shown there, which the BFF reads as TRIPO_WEBHOOK_SECRET (a Secrets Manager secret on
 * AWS; several values separated by whitespace while one is rotated). Header names, events and the
 * signature scheme are from tryAGI/Tripo (README.md and src/libs/Tripo/Extensions/
 * TripoWebhookSignature.cs, https://github.com/tryAGI/Tripo), checked 2026-12.
 */
export const tripoWebhook = {
  secretEnv: 'TRIPO_WEBHOOK_SECRET',
  signatureHeader: 'tripo-webhook-signature',
  deliveryHeader: 'tripo-webhook-delivery',
  eventHeader: 'tripo-webhook-event',
  /** Events that end a task; any other (e.g. `balance.low`) is acknowledged and ignored. */
  taskEvents: ['task.completed', 'task.failed'],
} as const;

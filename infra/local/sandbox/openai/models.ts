/**
 * Which image models the OpenAI Images API serves on 2026-12-02, which it has shut down, and what each
 * served family accepts. Sources (public; "checked" = the date the stored copy was read):
 *
 * - OpenAI deprecations page, developers.openai.com/api/docs/deprecations, checked 2026-12-02:
 *   `gpt-image-1-mini`, `gpt-image-1.5`, `gpt-image-1.5-2025-12-16` and `chatgpt-image-latest` shut down
 *   2026-12-01 (notice 2026-06-02), replacement `gpt-image-2.6-sunburst` / `gpt-image-2.6-flare`; the page
 *   also documents `shutdown_date` (YYYY-MM-DD or null) on `GET /v1/models[/{id}]`.
 * - OpenAI model pages developers.openai.com/api/docs/models/dall-e-3 and …/dall-e-2, checked 2026-12-02:
 *   "Shut down"; the date, 2026-05-12, is from OpenAI's deprecation e-mail of 2025-11-14 as quoted in
 *   public issue trackers (third-party).
 * - OpenAI model page developers.openai.com/ja-JP/api/docs/models/gpt-image-1, checked 2026-12-02: shut down
 *   2026-10-23.
 * - OpenAI model pages …/models/gpt-image-2 and …/models/gpt-image-2.6-sunburst, checked 2026-12-02: both
 *   served on `v1/images/generations` and `v1/images/edits`; no shutdown announced for `gpt-image-2`.
 * - OpenAI image generation guide, developers.openai.com/api/docs/guides/image-generation, checked
 *   2026-12-02: the 2.5 Sunburst/Flare and 2.6 Sunburst/Flare models; `complexity` (2.6 only); GIF and SVG
 *   output (2.6 only).
 * - openai-node src/resources/images.ts @ 7b7d6ca7 (2026-08-21): `gpt-image-2` and
 *   `gpt-image-2-2026-04-21`, its size rules, and the documented defaults (generations `dall-e-2`, edits
 *   `gpt-image-1.5`). The SDK predates 2.5 and 2.6.
 * - Unconfirmed, third-party only (apiyi, apidog, Comfy docs, Cloudflare model catalogue, each read
 *   2026-12-02): the `-2026-09-08` snapshot ids of 2.5, the release dates used for `created`, the quality
 *   values `xhigh`/`max`, and the 2.5/2.6 pixel bounds.
 */

export type Endpoint = 'generations' | 'edits';

export type ModelFamily = 'gpt-image-2' | 'gpt-image-2.5' | 'gpt-image-2.6';

export interface ServedModel {
  id: string;
  family: ModelFamily;
  /** Unix seconds of the release, as the model object's `created` (release dates: third-party). */
  created: number;
}

const released = (date: string): number => Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000);

export const OPENAI_SERVED_MODELS: readonly ServedModel[] = [
  { id: 'gpt-image-2', family: 'gpt-image-2', created: released('2026-04-21') },
  { id: 'gpt-image-2-2026-04-21', family: 'gpt-image-2', created: released('2026-04-21') },
  { id: 'gpt-image-2.5-sunburst', family: 'gpt-image-2.5', created: released('2026-09-08') },
  { id: 'gpt-image-2.5-sunburst-2026-09-08', family: 'gpt-image-2.5', created: released('2026-09-08') },
  { id: 'gpt-image-2.5-flare', family: 'gpt-image-2.5', created: released('2026-09-08') },
  { id: 'gpt-image-2.5-flare-2026-09-08', family: 'gpt-image-2.5', created: released('2026-09-08') },
  { id: 'gpt-image-2.6-sunburst', family: 'gpt-image-2.6', created: released('2026-11-04') },
  { id: 'gpt-image-2.6-flare', family: 'gpt-image-2.6', created: released('2026-11-04') },
];

/** Shut down (see the sources above); every call naming one answers `model_not_found`. */
export const OPENAI_RETIRED_MODELS = [
  'dall-e-2',
  'dall-e-3',
  'gpt-image-1',
  'gpt-image-1-mini',
  'gpt-image-1.5',
  'gpt-image-1.5-2025-12-16',
  'chatgpt-image-latest',
] as const;

/**
 * The model OpenAI documents as used when a request names none (openai-node images.ts @ 2026-08-21).
 * Generations: "Defaults to `dall-e-2` unless a parameter specific to the GPT image models is used" (which
 * GPT model that would be is not documented; every GPT model of that time is shut down too). Edits:
 * "Defaults to `gpt-image-1.5`". Both are shut down, so a request without `model` fails.
 */
export const OPENAI_DEFAULT_MODEL: Readonly<Record<Endpoint, string>> = {
  generations: 'dall-e-2',
  edits: 'gpt-image-1.5',
};

export function servedModel(id: string): ServedModel | undefined {
  return OPENAI_SERVED_MODELS.find((model) => model.id === id);
}

export function isRetiredModel(id: string): boolean {
  return (OPENAI_RETIRED_MODELS as readonly string[]).includes(id);
}

export type Quality = 'low' | 'medium' | 'high' | 'xhigh' | 'max';
export type OutputFormat = 'png' | 'jpeg' | 'webp' | 'gif';

/** What a family accepts beyond the fields every GPT image model shares. */
export interface FamilyRules {
  /** `quality` values besides `auto`. gpt-image-2 stops at `high`; `xhigh`/`max` came with 2.5. */
  qualities: readonly Quality[];
  /** `complexity` (low/medium/high, default high) exists on 2.6 only. */
  complexity: boolean;
  outputFormats: readonly OutputFormat[];
  /** Formats `background: "transparent"` works with. */
  transparentFormats: readonly OutputFormat[];
  /** Total-pixel bounds of a custom size, when the family has them. */
  pixels: { min: number; max: number } | undefined;
  /** 2.6 can also answer SVG (generations only, n = 1, with an `svg.model`); this simulator does not. */
  svg: boolean;
}

const BASE_QUALITIES: readonly Quality[] = ['low', 'medium', 'high'];
const EXTENDED_QUALITIES: readonly Quality[] = ['low', 'medium', 'high', 'xhigh', 'max'];
const PIXEL_BOUNDS = { min: 655_360, max: 8_294_400 };

export const FAMILY_RULES: Readonly<Record<ModelFamily, FamilyRules>> = {
  'gpt-image-2': {
    qualities: BASE_QUALITIES,
    complexity: false,
    outputFormats: ['png', 'jpeg', 'webp'],
    // "For gpt-image-2 … this support is in preview" (openai-node images.ts @ 2026-08-21).
    transparentFormats: ['png', 'webp'],
    pixels: undefined,
    svg: false,
  },
  'gpt-image-2.5': {
    qualities: EXTENDED_QUALITIES,
    complexity: false,
    outputFormats: ['png', 'jpeg', 'webp'],
    transparentFormats: ['png', 'webp'],
    pixels: PIXEL_BOUNDS,
    svg: false,
  },
  'gpt-image-2.6': {
    qualities: EXTENDED_QUALITIES,
    complexity: true,
    outputFormats: ['png', 'jpeg', 'webp', 'gif'],
    transparentFormats: ['png', 'webp', 'gif'],
    pixels: PIXEL_BOUNDS,
    svg: true,
  },
};

/** The three sizes every GPT image model takes; `auto` on edits picks the one closest to the input. */
export const STANDARD_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;
/** Custom `WxH`: both sides multiples of 16, aspect ratio within 1:3..3:1, at most 3840x2160. */
export const SIZE_STEP = 16;
export const MAX_ASPECT_RATIO = 3;
export const MAX_LONG_SIDE = 3840;
export const MAX_SHORT_SIDE = 2160;

import { fluxSettings } from './flux/settings.ts';
import { openaiSettings } from './openai/settings.ts';
import type { ProviderSettings } from './provider-settings.ts';
import { recraftSettings } from './recraft/settings.ts';
import { stabilitySettings } from './stability/settings.ts';
import { tripoSettings } from './tripo/settings.ts';

/** Every provider's settings: adding a provider adds its settings module here. */
export const PROVIDER_SETTINGS = [
  openaiSettings,
  stabilitySettings,
  recraftSettings,
  fluxSettings,
  tripoSettings,
] as const satisfies readonly ProviderSettings[];

/** The secret names of the providers' API keys (`OPENAI_API_KEY`, …). */
export type ProviderKeyName = (typeof PROVIDER_SETTINGS)[number]['keyEnv'];
export const PROVIDER_KEY_NAMES: readonly ProviderKeyName[] = PROVIDER_SETTINGS.map(
  (settings) => settings.keyEnv,
);

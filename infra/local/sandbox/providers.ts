import { fluxSettings } from '../../../functions/core/providers/flux/settings.ts';
import { openaiSettings } from '../../../functions/core/providers/openai/settings.ts';
import type { ProviderSettings } from '../../../functions/core/providers/provider-settings.ts';
import { recraftSettings } from '../../../functions/core/providers/recraft/settings.ts';
import { stabilitySettings } from '../../../functions/core/providers/stability/settings.ts';
import { tripoSettings } from '../../../functions/core/providers/tripo/settings.ts';
import { fluxSimulator } from './flux.ts';
import { openaiSimulator } from './openai.ts';
import { recraftSimulator } from './recraft.ts';
import type { SandboxSimulator } from './sandbox.ts';
import { stabilitySimulator } from './stability.ts';
import { tripoSimulator } from './tripo.ts';

/**
 * Providers the local stack can stand in for: each provider's settings (key and base-URL
 * variables, the simulator's API path and placeholder key) beside its simulator. When the key
 * variable is unset, the provider runs in sandbox mode: the base-URL variable points the real
 * adapter at the simulator mounted at `/__sandbox/<name>`, and the key variable gets a
 * placeholder the simulator accepts. Simulators read only the settings' names, never the
 * adapter's code: the settings name where things are, the simulator knows what the provider does.
 */
export interface SandboxedProvider {
  settings: ProviderSettings;
  simulator: SandboxSimulator;
}

export const SANDBOX_PROVIDERS: readonly SandboxedProvider[] = [
  { settings: openaiSettings, simulator: openaiSimulator },
  { settings: stabilitySettings, simulator: stabilitySimulator },
  { settings: recraftSettings, simulator: recraftSimulator },
  { settings: fluxSettings, simulator: fluxSimulator },
  { settings: tripoSettings, simulator: tripoSimulator },
];

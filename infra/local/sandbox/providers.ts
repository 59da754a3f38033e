import { fluxSimulator } from './flux.ts';
import { openaiSimulator } from './openai.ts';
import { recraftSimulator } from './recraft.ts';
import type { SandboxSimulator } from './sandbox.ts';
import { stabilitySimulator } from './stability.ts';
import { tripoSimulator } from './tripo.ts';

/**
 * Providers the local stack can stand in for. When `keyEnv` is unset, the provider runs in
 * sandbox mode: `baseUrlEnv` points the real adapter at the simulator mounted at
 * `/__sandbox/<name>`, and `keyEnv` gets a placeholder key the simulator accepts.
 */
export interface SandboxedProvider {
  name: string;
  simulator: SandboxSimulator;
  keyEnv: string;
  baseUrlEnv: string;
  /** Appended to the mount to form the adapter's base URL (OpenAI's SDK expects `/v1`). */
  apiPath: string;
  /** The placeholder key in sandbox mode, shaped like a real one where clients check (Tripo: `tsk_`). */
  sandboxKey?: string;
}

export const SANDBOX_PROVIDERS: readonly SandboxedProvider[] = [
  {
    name: 'openai',
    simulator: openaiSimulator,
    keyEnv: 'OPENAI_API_KEY',
    baseUrlEnv: 'OPENAI_BASE_URL',
    apiPath: '/v1',
  },
  {
    name: 'stability',
    simulator: stabilitySimulator,
    keyEnv: 'STABILITY_API_KEY',
    baseUrlEnv: 'STABILITY_BASE_URL',
    apiPath: '',
  },
  {
    name: 'recraft',
    simulator: recraftSimulator,
    keyEnv: 'RECRAFT_API_KEY',
    baseUrlEnv: 'RECRAFT_BASE_URL',
    apiPath: '',
  },
  { name: 'flux', simulator: fluxSimulator, keyEnv: 'BFL_API_KEY', baseUrlEnv: 'BFL_BASE_URL', apiPath: '' },
  {
    name: 'tripo',
    simulator: tripoSimulator,
    keyEnv: 'TRIPO_API_KEY',
    baseUrlEnv: 'TRIPO_BASE_URL',
    apiPath: '/v2/openapi',
    sandboxKey: 'tsk_sandbox',
  },
];

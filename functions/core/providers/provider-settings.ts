/**
 * The shape of a provider's settings module (`providers/<name>/settings.ts`): the one place a
 * provider's facts live. Configuration (functions/core/config.ts), the CDK secrets and
 * environment (infra/), the local sandbox (infra/local/sandbox/providers.ts) and the README's
 * configuration table (checked by test/unit/provider-settings.test.ts) all read these modules, so
 * a new provider, a moved host or a retired model is an edit here and nowhere else.
 *
 * Settings modules hold data only (no imports beyond this type), so that reading them costs a
 * handler nothing at cold start.
 */

import type { ImageLimits } from '../images/input-check.ts';

/** A provider model the BFF sends, overridable per stage without a code change. */
export interface ModelSetting {
  /** Environment variable (and CDK context key) that overrides the default. */
  readonly env: string;
  /** The model sent when the variable is unset. */
  readonly default: string;
  /** The BFF operations that send it. */
  readonly operations: readonly string[];
  /** Why this default: the provider's own page and the date it was checked. */
  readonly source: string;
}

export interface ProviderSettings {
  /** The `provider` value of requests (`openai`, `tripo`, …). */
  readonly name: string;
  /** How messages name the provider. */
  readonly label: string;
  /** The API key's secret name: an environment variable locally, a Secrets Manager secret on AWS. */
  readonly keyEnv: string;
  readonly baseUrl: {
    /** Environment variable (and CDK context key) that overrides the base URL. */
    readonly env: string;
    readonly default: string;
    readonly source: string;
  };
  /** Default models per purpose; empty where the provider's endpoints imply the model. */
  readonly models: Readonly<Record<string, ModelSetting>>;
  /**
   * Models and hosts the provider has shut down, with the date: a request naming one is a 400
   * before anything is sent, a base URL on a retired host is refused before any call, and a test
   * checks that no default names one.
   */
  readonly retired?: Readonly<Record<string, string>>;
  /** The provider's documented limits that the BFF checks before calling it. */
  readonly limits: Readonly<Record<string, number>>;
  /**
   * What each BFF operation that sends an image may send, by operation name (`image-to-image`,
   * `upscale`, …): formats, bytes, sides, pixels, aspect, each with its source. Checked from the
   * file's header (images/input-check.ts) before any call, upload or decode.
   */
  readonly inputImages?: Readonly<Record<string, ImageLimits>>;
  readonly sandbox: {
    /** Appended to the simulator's mount to form the base URL (OpenAI `/v1`, Tripo `/v3`). */
    readonly apiPath: string;
    /** The placeholder key in sandbox mode, shaped like a real one where clients check it. */
    readonly key?: string;
  };
}

/** Every environment variable a provider's settings name: key, base URL, models. */
export function settingVariables(settings: ProviderSettings): string[] {
  return [settings.baseUrl.env, ...Object.values(settings.models).map((model) => model.env)];
}

/** The date a provider shut a model or endpoint down, or undefined when it is not known retired. */
export function retiredOn(settings: ProviderSettings, id: string): string | undefined {
  return settings.retired?.[id];
}

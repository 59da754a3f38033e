import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { providerBaseUrl, providerModel, resetConfig } from '../../functions/core/config.ts';
import { settingVariables } from '../../functions/core/providers/provider-settings.ts';
import { PROVIDER_KEY_NAMES, PROVIDER_SETTINGS } from '../../functions/core/providers/settings.ts';
import { PROVIDER_SECRET_NAMES } from '../../infra/constructs/bff-secrets.ts';
import { SANDBOX_PROVIDERS } from '../../infra/local/sandbox/providers.ts';
import { PROVIDER_OVERRIDE_KEYS } from '../../infra/stacks/stage-settings.ts';

/**
 * A provider's facts live in its settings module; configuration, the CDK secrets and stage
 * overrides, the sandbox and the README's table all read them. These tests fail when one of
 * them drifts from the settings.
 */

/** The README's provider table, as the settings modules say it must read. */
function providerTable(): string {
  const rows = PROVIDER_SETTINGS.flatMap((settings) => [
    `| \`${settings.keyEnv}\` | unset → sandbox | ${settings.label} API key (a secret on AWS) |`,
    `| \`${settings.baseUrl.env}\` | \`${settings.baseUrl.default}\` | ${settings.label} base URL |`,
    ...Object.values(settings.models).map(
      (model) =>
        `| \`${model.env}\` | \`${model.default}\` | ${settings.label} model for ${model.operations.join(', ')} |`,
    ),
  ]);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

describe('provider settings', () => {
  it('are what the README configuration table lists', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = /<!-- provider-settings:start -->\n([\s\S]*?)\n<!-- provider-settings:end -->/.exec(
      readme,
    );
    expect(section?.[1], `README.md's provider table should read:\n${providerTable()}`).toBe(providerTable());
  });

  it('give the CDK its secrets and stage overrides, and the sandbox its providers', () => {
    expect([...PROVIDER_SECRET_NAMES]).toEqual([...PROVIDER_KEY_NAMES]);
    expect([...PROVIDER_OVERRIDE_KEYS]).toEqual(PROVIDER_SETTINGS.flatMap(settingVariables));
    expect(SANDBOX_PROVIDERS.map((provider) => provider.settings)).toEqual([...PROVIDER_SETTINGS]);
  });

  it('default to hosts and models the providers serve today, overridable by their variables', () => {
    resetConfig();
    const tripo = PROVIDER_SETTINGS.find((settings) => settings.name === 'tripo');
    const openai = PROVIDER_SETTINGS.find((settings) => settings.name === 'openai');
    expect(tripo && providerBaseUrl(tripo)).toBe('https://openapi.tripo3d.ai/v3');
    expect(openai && providerModel(openai.models.textToImage)).toBe('gpt-image-2.6-flare');
    process.env.OPENAI_TEXT_TO_IMAGE_MODEL = 'gpt-image-2.5-flare';
    process.env.TRIPO_BASE_URL = 'https://openapi.tripo3d.com/v3/';
    resetConfig();
    try {
      expect(openai && providerModel(openai.models.textToImage)).toBe('gpt-image-2.5-flare');
      expect(tripo && providerBaseUrl(tripo)).toBe('https://openapi.tripo3d.com/v3');
      process.env.OPENAI_TEXT_TO_IMAGE_MODEL = 'gpt image';
      resetConfig();
      expect(() => openai && providerModel(openai.models.textToImage)).toThrow(
        /^Invalid configuration: OPENAI_TEXT_TO_IMAGE_MODEL must be a provider model id/,
      );
    } finally {
      delete process.env.OPENAI_TEXT_TO_IMAGE_MODEL;
      delete process.env.TRIPO_BASE_URL;
      resetConfig();
    }
  });

  it('name no default that the provider has retired', () => {
    for (const settings of PROVIDER_SETTINGS) {
      const retired: Readonly<Record<string, string>> = 'retired' in settings ? settings.retired : {};
      for (const model of Object.values(settings.models)) expect(retired[model.default]).toBeUndefined();
      expect(Object.keys(retired).some((host) => settings.baseUrl.default.startsWith(host))).toBe(false);
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { authenticate, generateApiKey, TEST_API_KEY } from '../../functions/core/auth/api-keys.ts';
import { getConfig, resetConfig } from '../../functions/core/config.ts';
import { UnauthorizedError } from '../../functions/core/errors.ts';

/**
 * The test key and `makeit3d_test_…` keys belong only to a stage explicitly marked non-production
 * (NON_PRODUCTION=true, set by the stack from CDK context); the stage's name does not decide.
 */

const saved = { STAGE: process.env.STAGE, NON_PRODUCTION: process.env.NON_PRODUCTION };

function configWith(environment: { STAGE?: string; NON_PRODUCTION?: string }) {
  for (const key of ['STAGE', 'NON_PRODUCTION'] as const) {
    const value = environment[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  resetConfig();
  return getConfig();
}

afterEach(() => {
  configWith(saved);
});

describe('configuration', () => {
  it('is production when nothing marks the stage, whatever it is called', () => {
    for (const STAGE of ['prod', 'staging', 'dev', 'local', 'production']) {
      const config = configWith({ STAGE });
      expect(config.nonProduction, STAGE).toBe(false);
      expect(config.testKeyEnabled, STAGE).toBe(false);
    }
    expect(configWith({ STAGE: 'prod', NON_PRODUCTION: 'false' }).testKeyEnabled).toBe(false);
  });

  it('enables the test key on a stage marked non-production', () => {
    for (const NON_PRODUCTION of ['true', '1']) {
      const config = configWith({ STAGE: 'staging', NON_PRODUCTION });
      expect(config.nonProduction).toBe(true);
      expect(config.testKeyEnabled).toBe(true);
    }
  });

  it('never treats the stage named production as non-production, even when marked', () => {
    const config = configWith({ STAGE: 'production', NON_PRODUCTION: 'true' });
    expect(config.nonProduction).toBe(false);
    expect(config.testKeyEnabled).toBe(false);
  });

  it('refuses an unclear flag instead of guessing, naming the variable', () => {
    expect(() => configWith({ STAGE: 'staging', NON_PRODUCTION: 'yes' })).toThrow(/NON_PRODUCTION/);
  });
});

describe('API keys', () => {
  it('are issued as live keys unless the stage is marked non-production', () => {
    expect(generateApiKey('shopify', false)).toMatch(/^makeit3d_live_sk_shopify_[A-Za-z0-9_-]{32}$/);
    expect(generateApiKey('custom', true)).toMatch(/^makeit3d_test_sk_custom_[A-Za-z0-9_-]{32}$/);
  });

  it('refuse the public test key on an unmarked stage before any store is asked', async () => {
    configWith({ STAGE: 'prod' });
    const refused = authenticate(TEST_API_KEY);
    await expect(refused).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(refused).rejects.toThrow('Invalid or inactive API key');
  });
});

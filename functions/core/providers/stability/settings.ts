import type { ProviderSettings } from '../provider-settings.ts';

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
  sandbox: { apiPath: '' },
} as const satisfies ProviderSettings;

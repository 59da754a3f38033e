import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { getConfig, providerBaseUrl, requireSecret } from '../../config.ts';
import { ProviderRejectedError } from '../../errors.ts';
import { currentFetch } from '../http-client.ts';
import { connectionError, errorForStatus, moderatedError, timeoutError } from '../provider-errors.ts';
import { openaiSettings } from './settings.ts';

export const OPENAI_LABEL = openaiSettings.label;

/** The client and the key it was built with. */
let client: { key: string; instance: OpenAI } | undefined;

/**
 * The official SDK, with its own retries off: the state machine owns retrying (with backoff and
 * a record of each attempt), so a Lambda never sleeps between attempts. Its HTTP goes through
 * the providers' fetch, so adapter tests can inject recorded answers. The key is looked up on
 * every call (config.ts keeps it for SECRETS_TTL_SECONDS) and the client is built again when it
 * changed, so a rotated key is used within minutes, without a cold start.
 */
export async function openaiClient(): Promise<OpenAI> {
  const key = await requireSecret(openaiSettings.keyEnv);
  if (client?.key === key) return client.instance;
  const config = getConfig();
  const instance = new OpenAI({
    apiKey: key,
    baseURL: providerBaseUrl(openaiSettings),
    timeout: config.PROVIDER_TIMEOUT_SECONDS * 1000,
    maxRetries: 0,
    fetch: currentFetch,
  });
  client = { key, instance };
  return instance;
}

export function resetOpenaiClient(): void {
  client = undefined;
}

const MODERATION_CODES = new Set(['content_policy_violation', 'moderation_blocked']);

/** Which model a call sent, and where it came from, so a refusal can say what to change. */
export interface ModelChoice {
  model: string;
  /** The variable that set it, or undefined when the request named the model. */
  variable: string | undefined;
}

/**
 * Turns an SDK error into the BFF's named errors (the state machine's vocabulary). OpenAI answers
 * a retired or unknown model with `model_not_found` (HTTP 404 by its standard error shape; some
 * reports after the DALL·E shutdown saw 400), so the code decides, not the status: it fails the
 * task at once with a sentence naming the model and the setting to change.
 */
export function translateOpenaiError(error: unknown, choice: ModelChoice): Error {
  if (error instanceof APIConnectionTimeoutError) {
    return timeoutError(OPENAI_LABEL, getConfig().PROVIDER_TIMEOUT_SECONDS);
  }
  if (error instanceof APIConnectionError) return connectionError(OPENAI_LABEL, error.cause ?? error);
  if (error instanceof APIError && typeof error.status === 'number') {
    const body = error.error as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : error.message;
    if (error.code === 'model_not_found') {
      const fix = choice.variable
        ? `set ${choice.variable} to a current OpenAI image model`
        : 'send a current OpenAI image model, or omit model to use the configured default';
      return new ProviderRejectedError(
        `${OPENAI_LABEL} does not serve the model '${choice.model}' (model_not_found: it may have been retired); ${fix}; retrying will not help`,
      );
    }
    if (error.code && MODERATION_CODES.has(error.code)) return moderatedError(OPENAI_LABEL, detail);
    if (error.status === 429 && error.code === 'insufficient_quota') {
      // A billing limit, not a rate limit: waiting does not lift it.
      return new ProviderRejectedError(
        `${OPENAI_LABEL} refused the request because the service's account has no quota left (HTTP 429 insufficient_quota: ${detail}); retrying will not help until billing is fixed`,
      );
    }
    return errorForStatus(OPENAI_LABEL, error.status, detail);
  }
  return error instanceof Error ? error : new Error(String(error));
}

import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { getConfig, requireSecret } from '../../config.ts';
import { connectionError, errorForStatus, moderatedError, timeoutError } from '../provider-errors.ts';

export const OPENAI_LABEL = 'OpenAI';

let client: Promise<OpenAI> | undefined;

/**
 * The official SDK, with its own retries off: the state machine owns retrying (with backoff and
 * a record of each attempt), so a Lambda never sleeps between attempts.
 */
export function openaiClient(): Promise<OpenAI> {
  client ??= (async () => {
    const config = getConfig();
    return new OpenAI({
      apiKey: await requireSecret('OPENAI_API_KEY'),
      ...(config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {}),
      timeout: config.PROVIDER_TIMEOUT_SECONDS * 1000,
      maxRetries: 0,
    });
  })();
  client.catch(() => {
    client = undefined;
  });
  return client;
}

export function resetOpenaiClient(): void {
  client = undefined;
}

const MODERATION_CODES = new Set(['content_policy_violation', 'moderation_blocked']);

/** Turns an SDK error into the BFF's named errors (the state machine's vocabulary). */
export function translateOpenaiError(error: unknown): Error {
  if (error instanceof APIConnectionTimeoutError) {
    return timeoutError(OPENAI_LABEL, getConfig().PROVIDER_TIMEOUT_SECONDS);
  }
  if (error instanceof APIConnectionError) return connectionError(OPENAI_LABEL, error.cause ?? error);
  if (error instanceof APIError && typeof error.status === 'number') {
    const body = error.error as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : error.message;
    if (error.code && MODERATION_CODES.has(error.code)) return moderatedError(OPENAI_LABEL, detail);
    if (error.status === 429 && error.code === 'insufficient_quota') {
      return errorForStatus(OPENAI_LABEL, 402, `insufficient quota: ${detail}`);
    }
    return errorForStatus(OPENAI_LABEL, error.status, detail);
  }
  return error instanceof Error ? error : new Error(String(error));
}

import { NotFoundError, ValidationError } from '../errors.ts';
import { fluxRequests } from '../providers/flux/schemas.ts';
import { openaiRequests } from '../providers/openai/schemas.ts';
import { recraftRequests } from '../providers/recraft/schemas.ts';
import { stabilityRequests } from '../providers/stability/schemas.ts';
import { tripoRequests } from '../providers/tripo/requests.ts';
import { downscaleRequest } from './downscale-request.ts';
import type { OperationRequest } from './operation-request.ts';

/**
 * The request side of the operation catalogue: for each operation of docs/api.md, Generation requests, the providers
 * that serve it and their request schemas. A provider folder's `schemas.ts` exports
 * `{ '<operation>': OperationRequest }`; adding a provider is adding its export to
 * PROVIDER_REQUESTS (and its runnable entries to catalogue.ts, which checks the two agree).
 * Operations listed in ALL_OPERATIONS with no provider yet answer 404 until one is added.
 * The submit handler imports only this module, never the code that runs a provider.
 */

export const ALL_OPERATIONS = [
  'image-to-image',
  'text-to-image',
  'text-to-model',
  'image-to-model',
  'sketch-to-image',
  'image-inpaint',
  'remove-background',
  'search-and-recolor',
  'upscale',
  'downscale',
  'refine-model',
] as const;
export type OperationName = (typeof ALL_OPERATIONS)[number];

const PROVIDER_REQUESTS: Partial<Record<string, OperationRequest>>[] = [
  openaiRequests,
  stabilityRequests,
  recraftRequests,
  fluxRequests,
  tripoRequests,
  { downscale: downscaleRequest },
];

/** Operations that take no provider: the body's `provider` is ignored (docs/api.md, Generation requests). */
const PROVIDERLESS: Partial<Record<OperationName, string>> = { downscale: 'bff' };

/** Operations whose `provider` may be omitted (docs/api.md, Generation requests). */
const DEFAULT_PROVIDERS: Partial<Record<OperationName, string>> = {
  'search-and-recolor': 'stability',
  'sketch-to-image': 'stability',
};

const catalogue = new Map<string, Map<string, OperationRequest>>();
for (const group of PROVIDER_REQUESTS) {
  for (const [operation, entry] of Object.entries(group)) {
    if (!entry) continue;
    const providers = catalogue.get(operation) ?? new Map<string, OperationRequest>();
    providers.set(entry.provider, entry);
    catalogue.set(operation, providers);
  }
}

export function servedOperations(): string[] {
  return ALL_OPERATIONS.filter((operation) => catalogue.has(operation));
}

export function providersOf(operation: string): string[] {
  return [...(catalogue.get(operation)?.keys() ?? [])];
}

/**
 * The request entry of a task already validated at submit: its metadata (mode, runsOn,
 * resultKind, reportsProgress) without the code that runs it, for the workflow states that only
 * record the task (their bundles stay free of provider clients and image codecs).
 */
export function operationRequest(operation: string, provider: string): OperationRequest {
  const entry = catalogue.get(operation)?.get(provider);
  if (!entry) throw new Error(`No catalogue entry for ${operation} with provider ${provider}`);
  return entry;
}

/** The operation named in the path, or 404. */
export function findOperation(operation: string | undefined): Map<string, OperationRequest> {
  const providers = operation ? catalogue.get(operation) : undefined;
  if (!operation || !providers) {
    throw new NotFoundError(
      `Unknown operation '${operation ?? ''}'. Supported operations: ${servedOperations().join(', ')}`,
    );
  }
  return providers;
}

/**
 * How an operation's `provider` is chosen (docs/api.md, Generation requests): `{ providerless }`
 * when the body's provider is ignored (downscale), `{ defaultProvider }` when it may be left out,
 * else `{}` (required). The OpenAPI document and the client generator read it.
 */
export function providerRule(operation: string): { defaultProvider?: string; providerless?: string } {
  const providerless = PROVIDERLESS[operation as OperationName];
  if (providerless) return { providerless };
  const defaultProvider = DEFAULT_PROVIDERS[operation as OperationName];
  return defaultProvider ? { defaultProvider } : {};
}

/**
 * The provider entry a request selects: `provider` from the body (or the operation's default),
 * 400 `Unsupported provider …` outside the operation's row (clients match on those words).
 */
export function selectProvider(operation: string, body: Record<string, unknown>): OperationRequest {
  const providers = findOperation(operation);
  const supported = [...providers.keys()];
  const requested =
    PROVIDERLESS[operation as OperationName] ??
    body.provider ??
    DEFAULT_PROVIDERS[operation as OperationName];
  if (requested === undefined || requested === null || requested === '') {
    throw new ValidationError(
      `provider is required for ${operation}. Supported providers: ${supported.join(', ')}`,
      [{ field: 'provider', message: `is required; one of: ${supported.join(', ')}` }],
    );
  }
  if (typeof requested !== 'string') {
    // Named here, not by String(): `{"toString": 1}` cannot be converted, `["openai"]` would pass.
    throw new ValidationError(
      `Unsupported provider for ${operation}: provider must be a string, not ${jsonTypeName(requested)}. Supported providers: ${supported.join(', ')}`,
      [{ field: 'provider', message: `must be a string, one of: ${supported.join(', ')}` }],
    );
  }
  const name = requested;
  const entry = providers.get(name);
  if (!entry) {
    throw new ValidationError(
      `Unsupported provider '${name}' for ${operation}. Supported providers: ${supported.join(', ')}`,
      [{ field: 'provider', message: `must be one of: ${supported.join(', ')}` }],
    );
  }
  return entry;
}

function jsonTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

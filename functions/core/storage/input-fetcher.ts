import { getConfig } from '../config.ts';
import {
  InputInvalidError,
  InputNotFoundError,
  InputTooLargeError,
  ProviderUnavailableError,
} from '../errors.ts';
import { isAllowedAssetUrl } from '../operations/fields.ts';

/**
 * Downloads a client's input file. Only URLs of the configured Supabase Storage origin are
 * fetched, redirects are followed only while they stay on those routes, and at most
 * MAX_INPUT_BYTES (20 MiB) are read: the BFF never fetches an arbitrary URL for a client.
 */

export interface FetchedInput {
  field: string;
  url: string;
  bytes: Buffer;
  contentType: string;
  filename: string;
}

const MAX_REDIRECTS = 3;
const FETCH_TIMEOUT_MS = 60_000;

export async function fetchInput(field: string, url: string): Promise<FetchedInput> {
  const limit = getConfig().MAX_INPUT_BYTES;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (!isAllowedAssetUrl(current)) {
      throw new InputInvalidError(
        `${field} must point at this project's Supabase Storage; it redirected elsewhere`,
      );
    }
    let response: Response;
    try {
      response = await fetch(current, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch (error) {
      throw new ProviderUnavailableError(`Could not download ${field} from storage; retrying may help`, {
        cause: error,
      });
    }
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new InputInvalidError(`${field} answered a redirect without a location`);
      current = new URL(location, current).href;
      continue;
    }
    if (response.status === 404 || response.status === 400) {
      await response.body?.cancel();
      throw new InputNotFoundError(
        `${field} was not found in storage (${url}); upload it before calling the API`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status >= 500) {
        throw new ProviderUnavailableError(
          `Storage answered HTTP ${response.status} for ${field}; retrying may help`,
        );
      }
      throw new InputNotFoundError(`${field} could not be read from storage (HTTP ${response.status})`);
    }
    const bytes = await readLimited(response, limit, field);
    const path = new URL(current).pathname;
    const filename = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || 'input';
    return {
      field,
      url,
      bytes,
      contentType: response.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream',
      filename,
    };
  }
  throw new InputInvalidError(`${field} redirected more than ${MAX_REDIRECTS} times`);
}

async function readLimited(response: Response, limit: number, field: string): Promise<Buffer> {
  const tooLarge = () =>
    new InputTooLargeError(
      `${field} is larger than ${Math.round(limit / 1024 / 1024)} MiB, the input size limit`,
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks, total);
}

/** Fetches every input field a provider operation declares, in its order. */
export async function fetchInputs(
  params: Record<string, unknown>,
  fields: readonly string[],
): Promise<FetchedInput[]> {
  const wanted: { field: string; url: string }[] = [];
  for (const field of fields) {
    const value = params[field];
    if (typeof value === 'string') wanted.push({ field, url: value });
    else if (Array.isArray(value)) {
      value.forEach((entry, index) => {
        if (typeof entry === 'string') wanted.push({ field: `${field}[${index}]`, url: entry });
      });
    }
  }
  return Promise.all(wanted.map(({ field, url }) => fetchInput(field, url)));
}

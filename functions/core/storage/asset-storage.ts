import { createHash } from 'node:crypto';
import { getConfig } from '../config.ts';
import { ProviderUnavailableError } from '../errors.ts';
import { isTransientStatus } from '../transient-retry.ts';
import { assetUrl } from './asset-urls.ts';
import { supabaseClient } from './supabase.ts';

/**
 * Results are kept in Supabase Storage, bucket SUPABASE_BUCKET, at
 * `<tenant>/<client task id>/<job id>/<index>.<ext>` (docs/api.md, Results): a tenant's prefix keeps its
 * assets apart, and a retried step overwrites the same object instead of adding another.
 */

/**
 * One path segment of a result key, built so that the object always stays under its tenant's
 * prefix in the configured bucket: whatever a tenant id or client task id holds, a segment is
 * never empty, never a dot segment (`.`, `..`, `...`: URL parsers and fetch resolve those, so
 * `<tenant>/../x` would land beside the tenant's folder or in another bucket) and never holds a
 * separator or an escape (`/`, `\`, `%`, `?`, `#`, spaces, non-ASCII).
 *
 * Ordinary ids (letters, digits, `.`, `_`, `:`, `-`, not only dots) are used as they are, so
 * existing keys stay where they are. Anything else becomes a readable part with every other
 * character replaced by `_`, plus the first 10 hex digits of the value's SHA-256, so two ids that
 * differ only in replaced characters (`My App`, `My/App`) never share a prefix. An encoded segment
 * always contains a letter or digit (the hash), so it cannot be a dot segment.
 */
const PLAIN_SEGMENT = /^[A-Za-z0-9._:-]+$/;
const ONLY_DOTS = /^\.+$/;

function keySegment(value: string): string {
  if (PLAIN_SEGMENT.test(value) && !ONLY_DOTS.test(value)) return value;
  const readable = value.replace(/[^A-Za-z0-9._:-]+/g, '_').slice(0, 64);
  return `${readable}-${createHash('sha256').update(value).digest('hex').slice(0, 10)}`;
}

export function resultPath(
  tenantId: string,
  clientTaskId: string,
  jobId: string,
  index: number,
  extension: string,
) {
  return `${keySegment(tenantId)}/${keySegment(clientTaskId)}/${keySegment(jobId)}/${index}.${extension}`;
}

export const assetStorage = {
  async upload(path: string, bytes: Buffer, contentType: string): Promise<void> {
    const supabase = await supabaseClient();
    const { error } = await supabase.storage
      .from(getConfig().SUPABASE_BUCKET)
      .upload(path, bytes, { contentType, upsert: true, cacheControl: '31536000' });
    if (!error) return;
    // supabase-js answers `status` for an HTTP error; none means the request never got an answer.
    const status = 'status' in error && typeof error.status === 'number' ? error.status : undefined;
    const what =
      status === undefined
        ? `Supabase Storage could not be reached (${error.message})`
        : `Supabase Storage answered HTTP ${status} (${error.message})`;
    if (status === undefined || isTransientStatus(status)) {
      // An outage, a reset or a rate limit: the caller (storeFiles) tries this upload again.
      throw new ProviderUnavailableError(what, { cause: error });
    }
    // Any other refusal (credentials, bucket, size limit) is the service's configuration: another
    // attempt would be refused the same way, so it is not a transient error.
    throw new Error(`${what}; the result was refused`, { cause: error });
  },

  /** The URL a client downloads (asset-urls.ts, kept apart so status reads need no supabase-js). */
  urlFor: assetUrl,
};

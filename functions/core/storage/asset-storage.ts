import { createHash } from 'node:crypto';
import { getConfig, required } from '../config.ts';
import { ProviderUnavailableError } from '../errors.ts';
import { supabaseClient } from './supabase.ts';

/**
 * Results are kept in Supabase Storage, bucket SUPABASE_BUCKET, at
 * `<tenant>/<client task id>/<job id>/<index>.<ext>` (contract §5): a tenant's prefix keeps its
 * assets apart, and a retried step overwrites the same object instead of adding another.
 */

/**
 * A path segment Supabase Storage keys accept as is. Client task ids and job ids already are;
 * a tenant id may hold other characters, and then gets a short hash so two tenants whose ids
 * differ only there never share a prefix.
 */
function keySegment(value: string): string {
  if (/^[A-Za-z0-9._:-]+$/.test(value)) return value;
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
    if (error) {
      // Storage outages are transient: the state machine retries the step.
      throw new ProviderUnavailableError(`Could not store the result in Supabase Storage: ${error.message}`, {
        cause: error,
      });
    }
  },

  /**
   * The URL a client downloads: public, or signed at read time for a private bucket. A public URL
   * is built the way supabase-js builds it, with no client: the status path then needs neither
   * the service key nor a network call.
   */
  async urlFor(path: string): Promise<string> {
    const config = getConfig();
    if (config.SUPABASE_BUCKET_PUBLIC) {
      const base = required(config.SUPABASE_URL, 'SUPABASE_URL').replace(/\/+$/, '');
      return encodeURI(`${base}/storage/v1/object/public/${config.SUPABASE_BUCKET}/${path}`);
    }
    const supabase = await supabaseClient();
    const { data, error } = await supabase.storage
      .from(config.SUPABASE_BUCKET)
      .createSignedUrl(path, config.SUPABASE_SIGNED_URL_TTL_SECONDS);
    if (error || !data)
      throw new Error(`Could not sign the result URL: ${error?.message ?? 'no URL returned'}`);
    return data.signedUrl;
  },
};

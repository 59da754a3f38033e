import { getConfig } from '../config.ts';
import { ProviderUnavailableError } from '../errors.ts';
import { supabaseClient } from './supabase.ts';

/**
 * Results are kept in Supabase Storage, bucket SUPABASE_BUCKET, at
 * `<tenant>/<client task id>/<job id>/<index>.<ext>` (contract §5): a tenant's prefix keeps its
 * assets apart, and a retried step overwrites the same object instead of adding another.
 */

export function resultPath(
  tenantId: string,
  clientTaskId: string,
  jobId: string,
  index: number,
  extension: string,
) {
  const safe = (segment: string) => encodeURIComponent(segment).replace(/%3A/gi, ':');
  return `${safe(tenantId)}/${safe(clientTaskId)}/${safe(jobId)}/${index}.${extension}`;
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

  /** The URL a client downloads: public, or signed at read time for a private bucket. */
  async urlFor(path: string): Promise<string> {
    const config = getConfig();
    const supabase = await supabaseClient();
    const bucket = supabase.storage.from(config.SUPABASE_BUCKET);
    if (config.SUPABASE_BUCKET_PUBLIC) return bucket.getPublicUrl(path).data.publicUrl;
    const { data, error } = await bucket.createSignedUrl(path, config.SUPABASE_SIGNED_URL_TTL_SECONDS);
    if (error || !data)
      throw new Error(`Could not sign the result URL: ${error?.message ?? 'no URL returned'}`);
    return data.signedUrl;
  },
};

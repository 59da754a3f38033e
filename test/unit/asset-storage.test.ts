import { createClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { assetStorage, resultPath } from '../../functions/core/storage/asset-storage.ts';

beforeAll(() => {
  process.env.SUPABASE_URL = 'https://project.supabase.co/';
  process.env.SUPABASE_BUCKET = 'makeit3d-app-assets';
  process.env.SUPABASE_BUCKET_PUBLIC = 'true';
  resetConfig();
});

describe('result storage', () => {
  it('stores results under tenant, client task id and job id', () => {
    expect(resultPath('my-store.myshopify.com', 'ws:item.1', 'ws_item-abc', 2, 'png')).toBe(
      'my-store.myshopify.com/ws:item.1/ws_item-abc/2.png',
    );
  });

  it('keeps tenants apart whose ids differ only in characters keys cannot hold', () => {
    const a = resultPath('My App', 't', 'j', 0, 'png');
    const b = resultPath('My/App', 't', 'j', 0, 'png');
    expect(a).toMatch(/^My_App-[0-9a-f]{10}\/t\/j\/0\.png$/);
    expect(a.split('/')[0]).not.toBe(b.split('/')[0]);
    expect(b.split('/')).toHaveLength(4);
  });

  it('builds public URLs exactly as supabase-js does, without a client', async () => {
    const path = resultPath('development_tenant', 'task:1', 'task_1-xyz', 0, 'png');
    const expected = createClient('https://project.supabase.co', 'key')
      .storage.from('makeit3d-app-assets')
      .getPublicUrl(path).data.publicUrl;
    expect(await assetStorage.urlFor(path)).toBe(expected);
  });
});

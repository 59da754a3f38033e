import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resultPath } from '../../functions/core/storage/asset-storage.ts';

/**
 * Result keys must stay under `<tenant>/` of the bucket whatever a client task id or a tenant id
 * holds. Checked the way the key is used: appended to Supabase Storage's object URL, which fetch
 * and every URL parser normalise (dot segments resolved, `%2e` read as `.`, `\` read as `/`).
 */

const OBJECT_BASE = 'https://project.supabase.co/storage/v1/object/makeit3d-app-assets/';
const SAFE_SEGMENT = /^[A-Za-z0-9._:-]+$/;

/** The key as the storage server sees it once the upload URL has been parsed. */
function keyAfterUrlParsing(path: string): string {
  const url = new URL(`${OBJECT_BASE}${path}`);
  const base = new URL(OBJECT_BASE).pathname;
  if (!url.pathname.startsWith(base)) return `(outside the bucket) ${url.pathname}`;
  return decodeURIComponent(url.pathname.slice(base.length));
}

function expectContained(tenant: string, taskId: string): string[] {
  const path = resultPath(tenant, taskId, 'job-1', 0, 'png');
  const segments = path.split('/');
  expect(segments, path).toHaveLength(4);
  for (const segment of segments) {
    expect(segment, path).toMatch(SAFE_SEGMENT);
    expect(segment, path).not.toMatch(/^\.*$/);
  }
  // Parsing the upload URL changes nothing: no segment can climb out or be dropped.
  expect(keyAfterUrlParsing(path), path).toBe(path);
  return segments;
}

describe('result keys under hostile client task ids', () => {
  it.each(['..', '.', '...', '../x', '%2e%2e', '%2E%2E/x', '..\\x', '', 'a/../../b', '?x#y'])(
    'keeps task_id %j inside its tenant and task folders',
    (taskId) => {
      const [tenant, task] = expectContained('development_tenant', taskId);
      expect(tenant).toBe('development_tenant');
      expect(task).toMatch(/-[0-9a-f]{10}$/);
    },
  );

  it('keeps the readable part of an encoded id and tells dot-only ids apart', () => {
    const dots = ['.', '..', '...'].map((taskId) => resultPath('t', taskId, 'j', 0, 'png').split('/')[1]);
    expect(dots[0]).toMatch(/^\.-[0-9a-f]{10}$/);
    expect(dots[1]).toMatch(/^\.\.-[0-9a-f]{10}$/);
    expect(new Set(dots).size).toBe(3);
    expect(resultPath('t', '../x', 'j', 0, 'png').split('/')[1]).toMatch(/^\.\._x-[0-9a-f]{10}$/);
    expect(resultPath('t', '%2e%2e', 'j', 0, 'png').split('/')[1]).toMatch(/^_2e_2e-[0-9a-f]{10}$/);
  });
});

describe('result keys under hostile tenant ids', () => {
  it.each(['..', '.', 'a/b', '../other-bucket', '%2e%2e', 'a\\b', ' ', '', 'ü/..'])(
    'gives tenant %j one folder of its own, never a dot segment or a separator',
    (tenant) => {
      const [segment] = expectContained(tenant, 'task-1');
      expect(segment).toMatch(/-[0-9a-f]{10}$/);
    },
  );

  it('never shares a folder between a dot-only tenant and the one it would resolve to', () => {
    const folder = (tenant: string) => resultPath(tenant, 'x', 'j', 0, 'png').split('/')[0];
    expect(new Set([folder('.'), folder('..'), folder('a/b'), folder('a_b'), folder('a\\b')]).size).toBe(5);
  });
});

describe('result keys of ordinary ids', () => {
  it('are unchanged, so stored assets stay where they were', () => {
    expect(resultPath('my-store.myshopify.com', 'ws:item.1', 'ws_item-abc', 2, 'png')).toBe(
      'my-store.myshopify.com/ws:item.1/ws_item-abc/2.png',
    );
    expect(resultPath('development_tenant', 'a..b', '..-Xy_z', 0, 'glb')).toBe(
      'development_tenant/a..b/..-Xy_z/0.glb',
    );
    expect(resultPath('.hidden', '.x', 'j', 0, 'png')).toBe('.hidden/.x/j/0.png');
  });
});

describe('any tenant id and task id', () => {
  it('give a four-segment key that URL parsing leaves as it is', () => {
    const id = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({
        unit: fc.constantFrom('.', '/', '\\', '%', '2', 'e', 'E', '?', '#', ':', ' '),
        maxLength: 12,
      }),
    );
    fc.assert(
      fc.property(id, id, (tenant, taskId) => {
        expectContained(tenant, taskId);
      }),
      { numRuns: 2000 },
    );
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, generate } from '../../clients/typescript/scripts/generate.ts';
import { OPERATIONS } from '../../clients/typescript/src/generated/operations.ts';
import { providersOf, servedOperations } from '../../functions/core/operations/request-catalogue.ts';

/**
 * The client's generated types are the request schemas the API validates with and the answers of
 * its OpenAPI document: the committed file is what the generator writes from them now (run `npm
 * run generate -w @makeit3d/client` after changing a schema), and the client's code never imports
 * zod or functions/.
 */

describe('clients/typescript/src/generated/operations.ts', () => {
  it('is up to date with the request schemas', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(generate());
  });

  it('lists every served operation and provider', () => {
    expect(Object.keys(OPERATIONS).sort()).toEqual(servedOperations().sort());
    for (const operation of servedOperations()) {
      expect(Object.keys(OPERATIONS[operation as keyof typeof OPERATIONS].providers).sort()).toEqual(
        providersOf(operation).sort(),
      );
    }
    expect(OPERATIONS['search-and-recolor'].defaultProvider).toBe('stability');
    expect(OPERATIONS.downscale.providerless).toBe('bff');
    expect(OPERATIONS['text-to-image'].providers.openai?.properties.n).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 4,
    });
  });

  it('keeps the client free of zod and of the service code at run time', () => {
    const sources = ['client.ts', 'errors.ts', 'polling.ts', 'storage.ts', 'types.ts', 'index.ts'].map(
      (file) => readFileSync(new URL(`../../clients/typescript/src/${file}`, import.meta.url), 'utf8'),
    );
    const generated = readFileSync(GENERATED_FILE, 'utf8');
    for (const source of [...sources, generated]) {
      expect(source).not.toMatch(/from ['"](zod|\.\.\/.*functions\/)/);
    }
  });
});

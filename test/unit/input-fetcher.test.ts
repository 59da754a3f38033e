import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../functions/core/config.ts';
import { InputInvalidError, InputNotFoundError, InputTooLargeError } from '../../functions/core/errors.ts';
import { fetchInput } from '../../functions/core/storage/input-fetcher.ts';

/**
 * Input downloads against real HTTP servers: one playing the configured Supabase project, one
 * playing somewhere else. Only the project's Storage routes are read, redirects are followed only
 * while they stay there, and at most MAX_INPUT_BYTES are read.
 */

let storage: Server;
let elsewhere: Server;
let base = '';
let otherBase = '';
let elsewhereHits = 0;

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

beforeAll(async () => {
  elsewhere = createServer((_request, response) => {
    elsewhereHits += 1;
    response.end('secret');
  });
  otherBase = await listen(elsewhere);
  storage = createServer((request, response) => {
    const path = request.url ?? '';
    if (path.endsWith('/small.png')) {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(Buffer.alloc(100, 1));
    } else if (path.endsWith('/declared-big.png')) {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': String(2048) });
      response.end(Buffer.alloc(2048, 1));
    } else if (path.endsWith('/streamed-big.png')) {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.write(Buffer.alloc(700, 1));
      response.end(Buffer.alloc(700, 1));
    } else if (path.endsWith('/moved.png')) {
      response.writeHead(302, { location: '/storage/v1/object/public/bucket/small.png' });
      response.end();
    } else if (path.endsWith('/away.png')) {
      response.writeHead(302, { location: `${otherBase}/steal` });
      response.end();
    } else if (path.endsWith('/to-rest.png')) {
      response.writeHead(302, { location: '/rest/v1/concept_images' });
      response.end();
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"statusCode":"404","error":"not_found"}');
    }
  });
  base = await listen(storage);
  process.env.SUPABASE_URL = base;
  process.env.MAX_INPUT_BYTES = '1024';
  resetConfig();
});

afterAll(async () => {
  await new Promise((resolve) => storage.close(resolve));
  await new Promise((resolve) => elsewhere.close(resolve));
});

const url = (name: string) => `${base}/storage/v1/object/public/bucket/${name}`;

describe('fetchInput', () => {
  it('reads an object with its content type and name', async () => {
    const input = await fetchInput('input_image_asset_url', url('small.png'));
    expect(input).toMatchObject({
      field: 'input_image_asset_url',
      contentType: 'image/png',
      filename: 'small.png',
    });
    expect(input.bytes.length).toBe(100);
  });

  it('follows a redirect that stays on the storage routes', async () => {
    expect((await fetchInput('input_image_asset_url', url('moved.png'))).bytes.length).toBe(100);
  });

  it('refuses a redirect to another origin without following it', async () => {
    await expect(fetchInput('input_image_asset_url', url('away.png'))).rejects.toThrow(InputInvalidError);
    expect(elsewhereHits).toBe(0);
  });

  it('refuses a redirect to another route of the project', async () => {
    await expect(fetchInput('input_image_asset_url', url('to-rest.png'))).rejects.toThrow(
      /redirected elsewhere/,
    );
  });

  it('refuses a URL outside the project before any request', async () => {
    await expect(
      fetchInput('input_image_asset_url', `${otherBase}/storage/v1/object/public/b/x.png`),
    ).rejects.toThrow(InputInvalidError);
    expect(elsewhereHits).toBe(0);
  });

  it('stops at the size limit, declared or streamed', async () => {
    await expect(fetchInput('input_image_asset_url', url('declared-big.png'))).rejects.toThrow(
      InputTooLargeError,
    );
    await expect(fetchInput('input_image_asset_url', url('streamed-big.png'))).rejects.toThrow(
      InputTooLargeError,
    );
  });

  it('reports a missing object as input not found', async () => {
    await expect(fetchInput('input_mask_asset_url', url('absent.png'))).rejects.toThrow(InputNotFoundError);
    await expect(fetchInput('input_mask_asset_url', url('absent.png'))).rejects.toThrow(
      /input_mask_asset_url/,
    );
  });
});

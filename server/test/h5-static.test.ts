import { get } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { IMMUTABLE, REVALIDATE, staticH5Plugin } from '../src/plugins/static-h5.ts';

// The plugin alone, on a real port, over a folder laid out like Taro's H5 output.
let app: FastifyInstance | undefined;
let dir: string | undefined;
afterEach(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  app = undefined;
  dir = undefined;
});

async function serve(root: string): Promise<string> {
  app = Fastify();
  await app.register(staticH5Plugin, { root });
  app.get('/trpc/checkSession', async () => ({ result: { data: { valid: false, reason: 'missing' } } }));
  return app.listen({ port: 0, host: '127.0.0.1' });
}

function statusOf(url: string, headers: Record<string, string>): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
}

function h5Folder(): string {
  dir = mkdtempSync(join(tmpdir(), 'wxkit-h5-'));
  mkdirSync(join(dir, 'js'));
  mkdirSync(join(dir, 'css'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script src="/js/app.1a2b3c4d.js"></script>');
  writeFileSync(join(dir, 'js', 'app.1a2b3c4d.js'), 'console.log(1)');
  writeFileSync(join(dir, 'js', 'app.1a2b3c4d.js.LICENSE.txt'), 'MIT');
  writeFileSync(join(dir, 'css', 'app.0f0f0f0f.css'), 'body{}');
  return dir;
}

describe('static H5 plugin', () => {
  it('serves index.html at / with no-cache, and revalidation answers 304', async () => {
    const url = await serve(h5Folder());
    const first = await fetch(`${url}/`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/html/);
    expect(first.headers.get('cache-control')).toBe(REVALIDATE);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    // node:http, not fetch: fetch adds `cache-control: no-cache` to conditional requests, which forces a 200.
    expect(await statusOf(`${url}/`, { 'if-none-match': etag! })).toBe(304);
    expect((await fetch(`${url}/index.html`)).headers.get('cache-control')).toBe(REVALIDATE);
  });

  it('hashed assets are cached for a year as immutable; unhashed files are revalidated', async () => {
    const url = await serve(h5Folder());
    for (const path of ['/js/app.1a2b3c4d.js', '/css/app.0f0f0f0f.css']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cache-control'), path).toBe(IMMUTABLE);
    }
    expect((await fetch(`${url}/js/app.1a2b3c4d.js.LICENSE.txt`)).headers.get('cache-control')).toBe(REVALIDATE);
  });

  it('leaves other routes alone and answers 404 for files that do not exist', async () => {
    const url = await serve(h5Folder());
    expect((await fetch(`${url}/trpc/checkSession`)).status).toBe(200);
    expect((await fetch(`${url}/js/nope.12345678.js`)).status).toBe(404);
    expect((await fetch(`${url}/../package.json`)).status).toBe(404);
  });

  it('without a build, / says how to make one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wxkit-h5-empty-'));
    const url = await serve(dir);
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/npm run build:h5.*npm start/);
  });
});

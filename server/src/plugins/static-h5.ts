import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import fp from 'fastify-plugin';
import { serverRoot } from '../paths.ts';

/** client/dist/h5, built by `npm run build:h5` (and by `npm start` when missing or stale). */
export const defaultH5Dir = resolve(serverRoot, '..', 'client', 'dist', 'h5');

/** Taro names hashed assets `name.<8 hex>.ext` (see client/config/index.ts): their content never changes. */
const HASHED = /\.[0-9a-f]{8}\.(?:js|css|png|jpe?g|gif|svg|webp|woff2?|ttf|eot)$/;

export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html and anything unhashed: always revalidate (ETag / Last-Modified make that a cheap 304). */
export const REVALIDATE = 'no-cache';

function cacheHeaders(res: { setHeader(name: string, value: string): unknown }, path: string) {
  res.setHeader('cache-control', HASHED.test(basename(path)) ? IMMUTABLE : REVALIDATE);
}

/**
 * Serves the mini-program's H5 build at `/` (the API stays at `/trpc`). Without a build, `/` says how to make
 * one instead of a bare 404.
 */
export const staticH5Plugin = fp<{ root?: string }>(
  async (app, options) => {
    const root = options.root ?? defaultH5Dir;
    if (!existsSync(join(root, 'index.html'))) {
      app.get('/', async (_request, reply) =>
        reply
          .code(503)
          .header('cache-control', REVALIDATE)
          .type('text/plain; charset=utf-8')
          .send(`The H5 app is not built (no ${join(root, 'index.html')}): run \`npm run build:h5\` at the repository root, or start the server with \`npm start\`, which builds it.\n`),
      );
      return;
    }
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: ['index.html'],
      // Our own Cache-Control per file; ETag and Last-Modified stay on for revalidation.
      cacheControl: false,
      setHeaders: cacheHeaders,
      decorateReply: false,
    });
  },
  { name: 'static-h5' },
);

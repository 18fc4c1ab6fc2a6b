import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Store } from '../db/store.ts';
import { AppError } from '../trpc/app-error.ts';
import { sendAppError, trpcProcedures } from './http-errors.ts';

export interface LoginRateLimitOptions {
  /** Logins allowed per client address per minute. */
  perMinute: number;
  /** Clock for tests. */
  now?: () => number;
}

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * @fastify/rate-limit's store, counting in the database (`rate_limits`, a fixed window per key) so every server
 * process shares one count per address. A failing database fails the request (503), never lets logins through.
 */
function databaseCounter(store: Store, now: () => number) {
  return class DatabaseRateLimitStore {
    incr(key: string, callback: IncrCallback, timeWindow: number) {
      const t = now();
      store.hitRateLimit(`login:${key}`, timeWindow, t).then(
        (hit) => callback(null, { current: hit.count, ttl: Math.max(0, hit.windowStartedAt + timeWindow - t) }),
        (error: Error) => callback(error),
      );
    }
    child() {
      return this;
    }
  };
}

const WINDOW_MS = 60_000;

/**
 * Limits `login` per client address (the socket's address: Fastify's `trustProxy` is off, so put the server behind a
 * proxy only if that proxy limits too). Only requests that call `login` count and only they can be refused:
 * every other procedure is unaffected.
 *
 * Batches: each `login` in a batch counts (`/trpc/login,login` counts 2, so batching does not multiply the allowance),
 * and a batch that would go over the limit is refused whole with 429: the tRPC client then reports `rate_limited` on
 * every call of that batch. Our client sends login on its own, so in practice only login is ever refused.
 */
export const loginRateLimitPlugin = fp<LoginRateLimitOptions>(
  async (app, options) => {
    await app.register(rateLimit, { global: false, max: options.perMinute, timeWindow: WINDOW_MS, store: databaseCounter(app.store, options.now ?? Date.now) });
    const limiter = app.createRateLimit();

    /** Counts the logins of this request; answers 429 and returns true when over the limit. */
    async function limit(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
      const procedures = trpcProcedures(request) ?? [];
      const logins = procedures.filter((name) => name === 'login').length;
      if (logins === 0) return false;

      let exceeded: { ttlInSeconds: number; max: number } | undefined;
      for (let i = 0; i < logins; i++) {
        const result = await limiter(request);
        if (!result.isAllowed && result.isExceeded) exceeded = { ttlInSeconds: result.ttlInSeconds, max: result.max };
      }
      if (!exceeded) return false;

      const retryAfter = Math.max(1, exceeded.ttlInSeconds);
      request.log.warn({ logins, limit: exceeded.max }, 'login rate limit reached for this address');
      const message = `Too many logins from this address (limit ${exceeded.max} a minute): wait ${retryAfter} s (the Retry-After header), then log in again with a fresh code.`;
      void sendAppError(request, reply, new AppError('TOO_MANY_REQUESTS', 'rate_limited', message, retryAfter));
      return true;
    }

    // Callback style with a synchronous exit: the hook runs on every request, and most never name login.
    app.addHook('onRequest', (request, reply, done) => {
      const path = request.routeOptions.url === '/trpc/:path' ? (request.params as { path?: unknown }).path : undefined;
      if (typeof path !== 'string' || (!path.includes('login') && !path.includes('%'))) {
        done();
        return;
      }
      limit(request, reply).then(
        (answered) => {
          if (!answered) done();
        },
        (error: Error) => done(error),
      );
    });
  },
  { name: 'login-rate-limit', dependencies: ['database'] },
);

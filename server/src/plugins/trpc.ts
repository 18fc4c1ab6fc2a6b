import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { TRPCError } from '@trpc/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { appRouter, type AppRouter } from '../router.ts';
import { createContextFactory, type ContextDeps } from '../trpc/context.ts';
import { AppError } from '../trpc/app-error.ts';
import { fastTRPCPlugin, type FastTRPCPluginOptions } from '../trpc/fast-handler.ts';

/**
 * How `/trpc` is served. `fast` (default): the Fastify-native handler, same wire bytes, a fraction of the cost
 * per request. `stock`: tRPC's own fastify adapter, kept so tests can compare the two in one process.
 */
export type TRPCAdapter = 'fast' | 'stock';

export interface TRPCPluginOptions {
  /** Every service but the store, which comes from the database plugin. */
  services: Omit<ContextDeps, 'store'>;
  adapter?: TRPCAdapter;
}

/** Serves the root router at `/trpc`: plain JSON, batching on. */
export const trpcPlugin = fp<TRPCPluginOptions>(
  async (app, options) => {
    const contextFor = createContextFactory({ ...options.services, store: app.store });
    const createContext = (req: FastifyRequest, reply: FastifyReply) =>
      contextFor({
        authorization: req.headers.authorization,
        clientIp: req.ip,
        setHeader: (name, value) => void reply.header(name, value),
      });
    const onError = ({ error, path, req }: { error: TRPCError; path: string | undefined; req: FastifyRequest }) => {
      if (error instanceof AppError || error.code !== 'INTERNAL_SERVER_ERROR') return;
      req.log.error({ err: error.cause ?? error, path }, 'procedure failed');
    };

    if (options.adapter === 'stock') {
      const trpcOptions: FastifyTRPCPluginOptions<AppRouter>['trpcOptions'] = {
        router: appRouter,
        createContext: ({ req, res }) => createContext(req, res),
        onError,
      };
      await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions });
      return;
    }

    const fastOptions: FastTRPCPluginOptions<AppRouter> = {
      router: appRouter,
      createContext,
      onError,
    };
    await app.register(fastTRPCPlugin, { prefix: '/trpc', ...fastOptions });
  },
  { name: 'trpc', dependencies: ['database'] },
);

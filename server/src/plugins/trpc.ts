import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { AnyProcedure, TRPCError } from '@trpc/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { appRouter, type AppRouter } from '../router.ts';
import { createContextFactory, type ContextDeps } from '../trpc/context.ts';
import { AppError } from '../trpc/app-error.ts';
import type { ProcedureMeta } from '../trpc/init.ts';
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
  /** Check every output against its schema on the fast path too (tests); see `ProcedureMeta.outputFromTypedRows`. */
  validateOutputs?: boolean;
}

/** The fast path's rule: procedures marked `outputFromTypedRows` skip their zod output check, unless told to validate. */
export function skipsOutputCheck(validateOutputs: boolean): (procedure: AnyProcedure) => boolean {
  return (procedure) => !validateOutputs && (procedure._def.meta as ProcedureMeta | undefined)?.outputFromTypedRows === true;
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
      skipOutputValidation: skipsOutputCheck(options.validateOutputs === true),
    };
    await app.register(fastTRPCPlugin, { prefix: '/trpc', ...fastOptions });
  },
  { name: 'trpc', dependencies: ['database'] },
);

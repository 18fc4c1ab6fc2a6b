import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import fp from 'fastify-plugin';
import type { AuthService } from '../auth/auth-service.ts';
import { appRouter, type AppRouter } from '../router.ts';
import { createContextFactory } from '../trpc/context.ts';
import { AppError } from '../trpc/app-error.ts';

/** Serves the root router at `/trpc` with the stock adapter: plain JSON, batching on. */
export const trpcPlugin = fp<{ authService: AuthService }>(
  async (app, options) => {
    const createContext = createContextFactory({ authService: options.authService, store: app.store });
    const trpcOptions: FastifyTRPCPluginOptions<AppRouter>['trpcOptions'] = {
      router: appRouter,
      createContext: ({ req }) => createContext(req.headers.authorization),
      onError({ error, path, req }) {
        if (error instanceof AppError || error.code !== 'INTERNAL_SERVER_ERROR') return;
        req.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    };
    await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions });
  },
  { name: 'trpc', dependencies: ['database'] },
);

import { initTRPC } from '@trpc/server';
import type { Context } from './context.ts';
import { unauthorized } from './app-error.ts';
import { describeError } from './format-error.ts';

const t = initTRPC.context<Context>().create({
  // Never send stack traces, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const { message, reason } = describeError(error);
    return { ...shape, message, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, reason } };
  },
});

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;

/** Requires a live session; inside, `ctx.user` is non-null. */
export const protectedProcedure = t.procedure.use(async ({ ctx, next }) => {
  const auth = await ctx.auth();
  if (!auth.valid) throw unauthorized(auth.reason);
  return next({ ctx: { user: { id: auth.userId }, session: { id: auth.sessionId, expiresAt: auth.expiresAt } } });
});

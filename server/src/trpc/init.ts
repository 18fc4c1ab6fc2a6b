import { initTRPC } from '@trpc/server';
import type { Context } from './context.ts';
import { accountRequired, AppError, unauthorized } from './app-error.ts';
import { describeError } from './format-error.ts';

const t = initTRPC.context<Context>().create({
  // Never send stack traces, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const { message, reason } = describeError(error);
    const data = { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, reason };
    if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
      return { ...shape, message, data: { ...data, retryAfterSeconds: error.retryAfterSeconds as number | undefined } };
    }
    return { ...shape, message, data };
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

/**
 * Requires an account: a live session of a user with a username + password (not WeChat-only). Apps that demand
 * binding use it per procedure; a WeChat-only caller gets FORBIDDEN `account_required`.
 */
export const accountProcedure = protectedProcedure.use(async ({ ctx, next }) => {
  if (!(await ctx.deps.accountService.hasPassword(ctx.user.id))) throw accountRequired();
  return next();
});

/** For procedures that can answer "wait, then retry": the wait also goes in the Retry-After header. */
export const retryAfterHeader = t.middleware(async ({ ctx, next }) => {
  const result = await next();
  if (!result.ok && result.error instanceof AppError && result.error.retryAfterSeconds !== undefined) {
    ctx.request.setHeader('retry-after', String(result.error.retryAfterSeconds));
  }
  return result;
});

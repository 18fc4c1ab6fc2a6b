import { initTRPC } from '@trpc/server';
import type { Context } from './context.ts';
import { accountRequired, AppError, unauthorized } from './app-error.ts';
import { describeError } from './format-error.ts';

export interface ProcedureMeta {
  /**
   * The output is built field by field from typed rows, so its zod check cannot fail: the fast handler skips it in
   * production (tests keep it on: WXKIT_VALIDATE_OUTPUTS). Only for outputs with no transform or default in them.
   */
  outputFromTypedRows?: boolean;
}

const t = initTRPC.context<Context>().meta<ProcedureMeta>().create({
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
 * `protectedProcedure` for procedures that answer the caller's profile: the session and the profile come from one
 * statement, and `ctx.profile` is the caller's. A session whose user is gone is UNAUTHORIZED `invalid`, as ever.
 */
export const profileProcedure = t.procedure.use(async ({ ctx, next }) => {
  const { auth, profile } = await ctx.authWithProfile();
  if (!auth.valid) throw unauthorized(auth.reason);
  if (!profile) throw unauthorized('invalid');
  return next({ ctx: { user: { id: auth.userId }, session: { id: auth.sessionId, expiresAt: auth.expiresAt }, profile } });
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

import {
  bindAccountInput,
  bindAccountOutput,
  changePasswordInput,
  changePasswordOutput,
  loginWithPasswordInput,
  loginWithPasswordOutput,
  setPasswordInput,
  setPasswordOutput,
  signUpInput,
  signUpOutput,
  unbindWechatOutput,
} from '@wxkit/shared';
import { accountProcedure, protectedProcedure, publicProcedure, retryAfterHeader, router } from '../trpc/init.ts';
import type { Context } from '../trpc/context.ts';

const caller = (ctx: Context & { user: { id: string }; session: { id: string } }) => ({
  userId: ctx.user.id,
  sessionId: ctx.session.id,
  clientIp: ctx.request.clientIp,
});

/** Username + password accounts, and binding them to the caller's WeChat identity. */
export const accountRouter = router({
  /** A new account with a password and no WeChat identity. */
  signUp: publicProcedure
    .input(signUpInput)
    .output(signUpOutput)
    .mutation(({ ctx, input }) => ctx.deps.accountService.signUp(input)),

  /** Logs in without WeChat. */
  loginWithPassword: publicProcedure
    .use(retryAfterHeader)
    .input(loginWithPasswordInput)
    .output(loginWithPasswordOutput)
    .mutation(({ ctx, input }) => ctx.deps.accountService.loginWithPassword(input, ctx.request.clientIp)),

  /** Gives the current user (e.g. WeChat-only) a username and password. */
  setPassword: protectedProcedure
    .input(setPasswordInput)
    .output(setPasswordOutput)
    .mutation(({ ctx, input }) => ctx.deps.accountService.setPassword(caller(ctx), input)),

  /** Moves the caller's WeChat identity onto an existing account; answers a token for that account. */
  bindAccount: protectedProcedure
    .use(retryAfterHeader)
    .input(bindAccountInput)
    .output(bindAccountOutput)
    .mutation(({ ctx, input }) => ctx.deps.accountService.bindAccount(caller(ctx), input)),

  /** Detaches the WeChat identity: the next silent login from it makes a new WeChat-only user. */
  unbindWechat: protectedProcedure
    .output(unbindWechatOutput)
    .mutation(({ ctx }) => ctx.deps.accountService.unbindWechat(caller(ctx))),

  /** An account-only procedure: WeChat-only users get FORBIDDEN `account_required`. */
  changePassword: accountProcedure
    .use(retryAfterHeader)
    .input(changePasswordInput)
    .output(changePasswordOutput)
    .mutation(({ ctx, input }) => ctx.deps.accountService.changePassword(caller(ctx), input)),
});

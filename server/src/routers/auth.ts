import { checkSessionOutput, loginInput, loginOutput, logoutOutput } from '@wxkit/shared';
import { WeChatError } from '../wechat/errors.ts';
import { appErrorFromWeChat } from '../trpc/app-error.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const authRouter = router({
  /** Exchanges a wx.login code for our session token. */
  login: publicProcedure
    .meta({ outputFromTypedRows: true })
    .input(loginInput)
    .output(loginOutput)
    .mutation(async ({ ctx, input }) => {
      try {
        return await ctx.deps.authService.login(input.code);
      } catch (error) {
        if (error instanceof WeChatError) throw appErrorFromWeChat(error);
        throw error;
      }
    }),

  /** Says whether the Authorization header holds a live session, and why not. Never throws UNAUTHORIZED. */
  checkSession: publicProcedure
    .meta({ outputFromTypedRows: true })
    .output(checkSessionOutput)
    .query(async ({ ctx }) => {
      const auth = await ctx.auth();
      if (!auth.valid) return { valid: false as const, reason: auth.reason };
      // WeChat sessions: is the session_key behind them still valid? (asked at most every 10 minutes per session)
      if (await ctx.deps.sessionKeys.isStale(auth)) return { valid: false as const, reason: 'session_key_stale' as const };
      return { valid: true as const, expiresAt: new Date(auth.expiresAt).toISOString(), userId: auth.userId };
    }),

  /** Revokes the caller's session: its token stops working everywhere at once. */
  logout: protectedProcedure
    .meta({ outputFromTypedRows: true })
    .output(logoutOutput)
    .mutation(async ({ ctx }) => {
      await ctx.deps.authService.logout(ctx.session.id);
      return { ok: true as const };
    }),
});

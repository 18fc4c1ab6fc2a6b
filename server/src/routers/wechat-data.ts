import { bindPhoneInput, bindPhoneOutput, getWeRunOutput, syncWeRunInput, syncWeRunOutput } from '@wxkit/shared';
import { appErrorFromWeChat } from '../trpc/app-error.ts';
import { protectedProcedure, router } from '../trpc/init.ts';
import { WeChatError } from '../wechat/errors.ts';

/** WeChat's failures become typed tRPC errors (reason + what to do); everything else passes through. */
async function mapWeChatErrors<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WeChatError) throw appErrorFromWeChat(error);
    throw error;
  }
}

/** What WeChat knows of the user beyond the login: the phone number, and data encrypted with session_key. */
export const wechatDataRouter = router({
  /** Exchanges a `<Button openType="getPhoneNumber">` code for the user's number; answers the masked one. */
  bindPhone: protectedProcedure
    .input(bindPhoneInput)
    .output(bindPhoneOutput)
    .mutation(({ ctx, input }) => mapWeChatErrors(() => ctx.deps.phoneService.bindPhone(ctx.user.id, input.code))),

  /** Stores the steps of `wx.getWeRunData`; `session_key_stale` (401) when they were encrypted for an older login. */
  syncWeRun: protectedProcedure
    .input(syncWeRunInput)
    .output(syncWeRunOutput)
    .mutation(({ ctx, input }) => ctx.deps.weRunService.sync(ctx.user.id, input)),

  /** The latest 30 days stored, newest first. */
  getWeRun: protectedProcedure.output(getWeRunOutput).query(({ ctx }) => ctx.deps.weRunService.days(ctx.user.id)),
});

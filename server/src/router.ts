import { accountRouter } from './routers/account.ts';
import { authRouter } from './routers/auth.ts';
import { profileRouter } from './routers/profile.ts';
import { wechatDataRouter } from './routers/wechat-data.ts';
import { mergeRouters } from './trpc/init.ts';

/** Flat procedure names (`login`, `getProfile`, …): they are the wire paths testers call. */
export const appRouter = mergeRouters(authRouter, profileRouter, accountRouter, wechatDataRouter);

export type AppRouter = typeof appRouter;

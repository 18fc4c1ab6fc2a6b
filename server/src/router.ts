import { authRouter } from './routers/auth.ts';
import { profileRouter } from './routers/profile.ts';
import { mergeRouters } from './trpc/init.ts';

/** Flat procedure names (`login`, `getProfile`, …): they are the wire paths testers call. */
export const appRouter = mergeRouters(authRouter, profileRouter);

export type AppRouter = typeof appRouter;

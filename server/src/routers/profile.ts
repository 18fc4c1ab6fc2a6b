import { getProfileOutput, updateProfileInput, updateProfileOutput } from '@wxkit/shared';
import { profileToWire } from '../auth/profile-wire.ts';
import { unauthorized } from '../trpc/app-error.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const profileRouter = router({
  getProfile: protectedProcedure.output(getProfileOutput).query(async ({ ctx }) => {
    const row = await ctx.deps.store.profile(ctx.user.id);
    // The session outlived its user (deleted between the check and the read): same as an invalid token.
    if (!row) throw unauthorized('invalid');
    return profileToWire(row);
  }),

  updateProfile: protectedProcedure
    .input(updateProfileInput)
    .output(updateProfileOutput)
    .mutation(async ({ ctx, input }) => {
      const change = await ctx.deps.store.updateProfile(ctx.user.id, input, Date.now());
      if (!change) throw unauthorized('invalid');
      // An https avatarUrl replaced one of our stored images: remove it once no one uses it.
      if (change.previousMediaKey) ctx.deps.mediaService.release(change.previousMediaKey);
      return profileToWire(change.profile);
    }),
});

import { getProfileOutput, updateProfileInput, updateProfileOutput } from '@wxkit/shared';
import { profileToWire } from '../auth/profile-wire.ts';
import { unauthorized } from '../trpc/app-error.ts';
import { profileProcedure, protectedProcedure, router } from '../trpc/init.ts';

export const profileRouter = router({
  /** The session check and the profile are one read (profileProcedure). */
  getProfile: profileProcedure
    .meta({ outputFromTypedRows: true })
    .output(getProfileOutput)
    .query(({ ctx }) => profileToWire(ctx.profile)),

  updateProfile: protectedProcedure
    .meta({ outputFromTypedRows: true })
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

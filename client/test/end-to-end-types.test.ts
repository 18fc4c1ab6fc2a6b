/**
 * End-to-end types: the client is type-checked against the server's router (`import type { AppRouter }`).
 * The `@ts-expect-error` lines are checked by `npm run typecheck` (tsc over client/, tests included): if any of
 * them stopped being an error — a wrong input accepted, a renamed output field still readable — tsc fails.
 */
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@wxkit/server';
import type { CheckSessionOutput, LoginOutput, Profile, SyncWeRunOutput, UpdateProfileInput } from '@wxkit/shared';
import { describe, expectTypeOf, it } from 'vitest';
import type { Api, ApiClient } from '../src/api/create-api.ts';
import type { ClientErrorReason } from '../src/auth/errors.ts';
import { mutateWithFreshInput } from '../src/auth/fresh-input.ts';

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

/** Never called: it exists for the type checker. */
async function wrongCallsDoNotCompile(client: ApiClient) {
  // @ts-expect-error a nickname is a string
  await client.updateProfile.mutate({ nickname: 42 });
  // @ts-expect-error unknown input field (a typo, or a field renamed on the server)
  await client.updateProfile.mutate({ nick: 'Ada' });
  // @ts-expect-error login needs its code
  await client.login.mutate({});
  // @ts-expect-error getProfile takes no input
  await client.getProfile.query({ id: 'someone' });
  // @ts-expect-error no such procedure
  await client.getProfil.query();

  const profile = await client.getProfile.query();
  // @ts-expect-error the field is `nickname`: reading a renamed/missing output field is an error
  void profile.nickName;
  // @ts-expect-error nickname may be null: it must be narrowed before use as a string
  profile.nickname.toUpperCase();

  const session = await client.checkSession.query();
  // @ts-expect-error expiresAt exists only when valid is true
  void session.expiresAt;
  if (session.valid) void session.expiresAt.slice(0);
  // @ts-expect-error reason is one of the literal failure reasons
  if (!session.valid && session.reason === 'stale') return;

  // The fresh-input provider must give the procedure's own input.
  const synced = await mutateWithFreshInput(client.syncWeRun, async () => ({ encryptedData: 'AAAA', iv: 'AAAA' }));
  void synced.latest;
  // @ts-expect-error a provider of another procedure's input (bindPhone's) does not fit syncWeRun
  await mutateWithFreshInput(client.syncWeRun, async () => ({ code: 'x' }));
}
void wrongCallsDoNotCompile;

describe('end-to-end types', () => {
  it('procedure inputs and outputs are the shared schemas', () => {
    expectTypeOf<Outputs['getProfile']>().toEqualTypeOf<Profile>();
    expectTypeOf<Outputs['login']>().toEqualTypeOf<LoginOutput>();
    expectTypeOf<Outputs['checkSession']>().toEqualTypeOf<CheckSessionOutput>();
    expectTypeOf<Inputs['updateProfile']>().toEqualTypeOf<UpdateProfileInput>();
    expectTypeOf<Inputs['login']>().toEqualTypeOf<{ code: string }>();
  });

  it('the client methods return the router outputs', () => {
    expectTypeOf<ReturnType<ApiClient['getProfile']['query']>>().resolves.toEqualTypeOf<Profile>();
    expectTypeOf<ReturnType<ApiClient['updateProfile']['mutate']>>().resolves.toEqualTypeOf<Profile>();
    expectTypeOf<Parameters<ApiClient['updateProfile']['mutate']>[0]>().toEqualTypeOf<UpdateProfileInput>();
  });

  it('uploads and WeRun sync are typed by the shared schemas', () => {
    expectTypeOf<ReturnType<Api['uploadAvatar']>>().resolves.toEqualTypeOf<Profile>();
    expectTypeOf<ReturnType<Api['syncWeRun']>>().resolves.toEqualTypeOf<SyncWeRunOutput>();
  });

  it('error reasons are literal unions callers can switch on', () => {
    expectTypeOf<'revoked'>().toExtend<ClientErrorReason>();
    expectTypeOf<'network'>().toExtend<ClientErrorReason>();
    expectTypeOf<'credentials_invalid'>().toExtend<ClientErrorReason>();
    expectTypeOf<'session_key_stale'>().toExtend<ClientErrorReason>();
    expectTypeOf<'stale'>().not.toExtend<ClientErrorReason>();
  });
});

import { TRPCClientError } from '@trpc/client';
import { expect } from 'vitest';
import type { Api } from '../../src/api/create-api.ts';
import { platform } from './fake-taro.ts';

/** Awaits a call that must fail and returns its tRPC error. */
export async function expectApiError(call: Promise<unknown>): Promise<TRPCClientError<never>> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have failed').toBeInstanceOf(TRPCClientError);
  return error as TRPCClientError<never>;
}

/** Logs in through the app's client `api` and returns its token, then clears the fake platform's counters. */
export async function loggedIn(api: Api): Promise<string> {
  await api.client.getProfile.query();
  const token = api.session.token();
  expect(token).toBeTruthy();
  platform.requests = [];
  platform.loginCalls = 0;
  platform.checkSessionCalls = 0;
  return token!;
}

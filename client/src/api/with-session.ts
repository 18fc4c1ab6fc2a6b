import type { CheckSessionOutput } from '@wxkit/shared';
import type { Api } from './create-api.ts';

/**
 * Runs a call alongside checkSession (one batched request in the steady state) and answers both.
 * - The call had to log in again: the checkSession answer that travelled with it describes the old session, so it
 *   is asked once more.
 * - The server says WeChat's session_key went stale (`session_key_stale`): the token still works, but anything
 *   WeChat encrypts for it (WeRun) would not decrypt. The session is renewed (a new wx.login, so a new
 *   session_key) and asked once more.
 */
export async function withSession<T>(api: Pick<Api, 'client' | 'session'>, call: Promise<T>): Promise<[T, CheckSessionOutput]> {
  const [result, first] = await Promise.all([call, api.client.checkSession.query()]);
  if (first.valid) return [result, first];
  const second = await api.client.checkSession.query();
  if (second.valid || second.reason !== 'session_key_stale') return [result, second];
  await api.session.renew(api.session.token(), new AbortController().signal);
  return [result, await api.client.checkSession.query()];
}

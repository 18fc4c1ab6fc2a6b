import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher, PASSWORD_HASH_PARAMS, parseArgon2idParams } from '../src/accounts/passwords.ts';
import { createClient, expectTRPCError, loginAs, mintCode, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

let seq = 0;
/** A fresh username per test, so tests stay independent on one server. */
const uniqueName = (base: string) => `${base}${++seq}`;
const PASSWORD = 'correct horse battery';

const count = (sql: string, ...params: unknown[]) => server.db.count(sql, ...params);

async function signUp(username: string, password = PASSWORD) {
  return createClient(server.url).signUp.mutate({ username, password });
}

describe('signUp and loginWithPassword', () => {
  it('signUp makes a password-only user and logs it in', async () => {
    const name = uniqueName('alice');
    const out = await signUp(name);
    expect(out.isNewUser).toBe(true);
    expect(out.user).toMatchObject({ username: name, wechatBound: false, phone: null, nickname: null });
    const profile = await createClient(server.url, out.token).getProfile.query();
    expect(profile).toEqual(out.user);
  });

  it('usernames are compared without case: "Bob" after "bob" is username_taken (409)', async () => {
    const name = uniqueName('bob');
    await signUp(name);
    const error = await expectTRPCError(signUp(name.toUpperCase()));
    expect(error.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409, reason: 'username_taken' });
    expect(error.message).toMatch(/taken: choose another/);
  });

  it('loginWithPassword accepts any case of the username and lands on the same user', async () => {
    const name = uniqueName('carol');
    const created = await signUp(name);
    const out = await createClient(server.url).loginWithPassword.mutate({ username: name.toUpperCase(), password: PASSWORD });
    expect(out).toMatchObject({ isNewUser: false, user: { id: created.user.id, username: name } });
    expect(out.token).not.toBe(created.token);
  });

  it.each([
    ['a 2-character username', { username: 'ab', password: PASSWORD }, /username is shorter than 3/],
    ['a username with a space', { username: 'a b c', password: PASSWORD }, /username may only hold/],
    ['a 33-character username', { username: 'x'.repeat(33), password: PASSWORD }, /username is longer than 32/],
    ['a 7-character password', { username: 'validname', password: '1234567' }, /password is shorter than 8/],
    ['a 129-character password', { username: 'validname', password: 'x'.repeat(129) }, /password is longer than 128/],
  ])('rejects %s with 400 invalid_input', async (_label, input, message) => {
    const error = await expectTRPCError(createClient(server.url).signUp.mutate(input));
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    expect(error.message).toMatch(message);
  });

  it('a wrong password and an unknown username get the same credentials_invalid (401)', async () => {
    const name = uniqueName('dave');
    await signUp(name);
    const wrong = await expectTRPCError(createClient(server.url).loginWithPassword.mutate({ username: name, password: 'not the password' }));
    const unknown = await expectTRPCError(createClient(server.url).loginWithPassword.mutate({ username: uniqueName('nobody'), password: PASSWORD }));
    expect(wrong.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'credentials_invalid' });
    expect(unknown.data).toEqual(wrong.data);
    expect(unknown.message).toBe(wrong.message);
  });

  it('an unknown username costs a real hash verification, not a shortcut (median of 20, generous bound)', async () => {
    const name = uniqueName('timing');
    await signUp(name);
    const client = createClient(server.url);
    const time = async (username: string) => {
      const started = performance.now();
      await client.loginWithPassword.mutate({ username, password: 'wrong password' }).catch(() => undefined);
      return performance.now() - started;
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    // Interleaved, and under the lockout threshold per username: 4 wrong attempts for each of 5 usernames.
    const names = [name, ...(await Promise.all([1, 2, 3, 4].map(async () => (await signUp(uniqueName('timing'))).user.username!)))];
    for (let i = 0; i < 20; i++) {
      wrong.push(await time(names[i % 5]!));
      unknown.push(await time(uniqueName('ghost')));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Skipping the hash for unknown names would make them ~50× faster; the bench prints the precise ratio.
    expect(median(unknown)).toBeGreaterThan(median(wrong) * 0.5);
  });
});

describe('setPassword, bindAccount, unbindWechat', () => {
  it('setPassword gives a WeChat-only user a username: password login then lands on that user', async () => {
    const wx = await loginAs(server.url, uniqueName('wx'));
    const name = uniqueName('erin');
    const profile = await createClient(server.url, wx.token).setPassword.mutate({ username: name, password: PASSWORD });
    expect(profile).toMatchObject({ id: wx.user.id, username: name, wechatBound: true });
    const byPassword = await createClient(server.url).loginWithPassword.mutate({ username: name, password: PASSWORD });
    expect(byPassword.user.id).toBe(wx.user.id);

    const again = await expectTRPCError(createClient(server.url, wx.token).setPassword.mutate({ username: uniqueName('x'), password: PASSWORD }));
    expect(again.data).toMatchObject({ code: 'CONFLICT', reason: 'password_already_set' });
    expect(again.message).toMatch(/changePassword/);
  });

  it('setPassword with a taken username is username_taken and changes nothing', async () => {
    const taken = uniqueName('frank');
    await signUp(taken);
    const wx = await loginAs(server.url, uniqueName('wx'));
    const error = await expectTRPCError(createClient(server.url, wx.token).setPassword.mutate({ username: taken, password: PASSWORD }));
    expect(error.data).toMatchObject({ code: 'CONFLICT', reason: 'username_taken' });
    expect((await createClient(server.url, wx.token).getProfile.query()).username).toBeNull();
  });

  it('bindAccount moves the WeChat identity onto the account; silent logins then land on it', async () => {
    const name = uniqueName('grace');
    const account = await signUp(name);
    const wxUser = uniqueName('wx');
    const wx = await loginAs(server.url, wxUser);
    await createClient(server.url, wx.token).updateProfile.mutate({ nickname: 'From WeChat', avatarUrl: 'https://example.com/wx.png' });

    const bound = await createClient(server.url, wx.token).bindAccount.mutate({ username: name, password: PASSWORD });
    expect(bound.user).toMatchObject({ id: account.user.id, username: name, wechatBound: true, nickname: 'From WeChat', avatarUrl: 'https://example.com/wx.png' });
    // The new token works at once; the WeChat-only user is gone with its sessions.
    expect((await createClient(server.url, bound.token).getProfile.query()).id).toBe(account.user.id);
    const old = await expectTRPCError(createClient(server.url, wx.token).getProfile.query());
    expect(old.data).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await count('SELECT count(*) AS n FROM users WHERE id = ?', wx.user.id)).toBe(0);
    expect(await count('SELECT count(*) AS n FROM sessions WHERE user_id = ?', wx.user.id)).toBe(0);

    const next = await loginAs(server.url, wxUser);
    expect(next).toMatchObject({ isNewUser: false, user: { id: account.user.id, username: name, wechatBound: true } });
  });

  it("bindAccount keeps the account's own nickname and avatar", async () => {
    const name = uniqueName('heidi');
    const account = await signUp(name);
    await createClient(server.url, account.token).updateProfile.mutate({ nickname: 'Account name' });
    const wx = await loginAs(server.url, uniqueName('wx'));
    await createClient(server.url, wx.token).updateProfile.mutate({ nickname: 'WeChat name', avatarUrl: 'https://example.com/w.png' });
    const bound = await createClient(server.url, wx.token).bindAccount.mutate({ username: name, password: PASSWORD });
    expect(bound.user).toMatchObject({ nickname: 'Account name', avatarUrl: 'https://example.com/w.png' });
  });

  it('bindAccount from a session without WeChat is wechat_required (400)', async () => {
    const own = await signUp(uniqueName('ivan'));
    const other = uniqueName('judy');
    await signUp(other);
    const error = await expectTRPCError(createClient(server.url, own.token).bindAccount.mutate({ username: other, password: PASSWORD }));
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'wechat_required' });
  });

  it('bindAccount to an account that already has WeChat is already_bound (409); to itself too', async () => {
    const name = uniqueName('ken');
    await signUp(name);
    const first = await loginAs(server.url, uniqueName('wx'));
    const bound = await createClient(server.url, first.token).bindAccount.mutate({ username: name, password: PASSWORD });
    const second = await loginAs(server.url, uniqueName('wx'));
    const error = await expectTRPCError(createClient(server.url, second.token).bindAccount.mutate({ username: name, password: PASSWORD }));
    expect(error.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409, reason: 'already_bound' });
    const self = await expectTRPCError(createClient(server.url, bound.token).bindAccount.mutate({ username: name, password: PASSWORD }));
    expect(self.data).toMatchObject({ reason: 'already_bound' });
    // The refused caller keeps its own user and session.
    expect((await createClient(server.url, second.token).getProfile.query()).id).toBe(second.user.id);
  });

  it('bindAccount with a wrong password is credentials_invalid and moves nothing', async () => {
    const name = uniqueName('liz');
    await signUp(name);
    const wx = await loginAs(server.url, uniqueName('wx'));
    const error = await expectTRPCError(createClient(server.url, wx.token).bindAccount.mutate({ username: name, password: 'wrong password' }));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'credentials_invalid' });
    expect(await createClient(server.url, wx.token).getProfile.query()).toMatchObject({ id: wx.user.id, wechatBound: true });
  });

  it('unbindWechat: WeChat-only is last_login_method; a bound account detaches and the next login makes a new user', async () => {
    const wxOnly = await loginAs(server.url, uniqueName('wx'));
    const refused = await expectTRPCError(createClient(server.url, wxOnly.token).unbindWechat.mutate());
    expect(refused.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'last_login_method' });
    expect(refused.message).toMatch(/setPassword/);

    const name = uniqueName('mallory');
    const account = await signUp(name);
    const wxUser = uniqueName('wx');
    const wx = await loginAs(server.url, wxUser);
    const bound = await createClient(server.url, wx.token).bindAccount.mutate({ username: name, password: PASSWORD });
    const unbound = await createClient(server.url, bound.token).unbindWechat.mutate();
    expect(unbound).toMatchObject({ id: account.user.id, wechatBound: false, username: name });
    const fresh = await loginAs(server.url, wxUser);
    expect(fresh.isNewUser).toBe(true);
    expect(fresh.user.id).not.toBe(account.user.id);

    const none = await expectTRPCError(createClient(server.url, account.token).unbindWechat.mutate());
    expect(none.data).toMatchObject({ reason: 'wechat_required' });
  });
});

describe('changePassword (an accountProcedure)', () => {
  it('a WeChat-only user gets FORBIDDEN account_required', async () => {
    const wx = await loginAs(server.url, uniqueName('wx'));
    const error = await expectTRPCError(createClient(server.url, wx.token).changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'new password 1' }));
    expect(error.data).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403, reason: 'account_required' });
  });

  it('changes the password and revokes every other session of the user', async () => {
    const name = uniqueName('niaj');
    const first = await signUp(name);
    const second = await createClient(server.url).loginWithPassword.mutate({ username: name, password: PASSWORD });
    const wrong = await expectTRPCError(createClient(server.url, first.token).changePassword.mutate({ currentPassword: 'not it at all', newPassword: 'new password 1' }));
    expect(wrong.data).toMatchObject({ reason: 'credentials_invalid' });

    expect(await createClient(server.url, first.token).changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'new password 1' })).toEqual({ ok: true });
    expect((await createClient(server.url, first.token).getProfile.query()).id).toBe(first.user.id);
    const revoked = await expectTRPCError(createClient(server.url, second.token).getProfile.query());
    expect(revoked.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'revoked' });
    await expect(createClient(server.url).loginWithPassword.mutate({ username: name, password: PASSWORD })).rejects.toThrow(/wrong/);
    expect((await createClient(server.url).loginWithPassword.mutate({ username: name, password: 'new password 1' })).user.id).toBe(first.user.id);
  });
});

describe('concurrency', () => {
  it('20 WeChat users binding one account at once: exactly 1 succeeds, 19 already_bound, no orphaned rows', async () => {
    const name = uniqueName('olivia');
    const account = await signUp(name);
    const callers = await Promise.all(Array.from({ length: 20 }, () => loginAs(server.url, uniqueName('wx'))));
    const results = await Promise.allSettled(
      callers.map((c) => createClient(server.url, c.token).bindAccount.mutate({ username: name, password: PASSWORD })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { data?: { reason?: string } }).data?.reason] : []));
    expect(ok).toHaveLength(1);
    expect(reasons).toEqual(Array(19).fill('already_bound'));

    expect(await server.db.integrityProblems()).toEqual([]);
    expect(await count('SELECT count(*) AS n FROM wechat_identities WHERE user_id = ?', account.user.id)).toBe(1);
    // The winner's WeChat-only user is gone; the 19 losers keep theirs, each with its identity.
    const callerIds = callers.map((c) => c.user.id);
    const remaining: string[] = [];
    for (const id of callerIds) if ((await count('SELECT count(*) AS n FROM users WHERE id = ?', id)) === 1) remaining.push(id);
    expect(remaining).toHaveLength(19);
    for (const id of remaining) expect(await count('SELECT count(*) AS n FROM wechat_identities WHERE user_id = ?', id)).toBe(1);
  });
});

describe('password hashing', () => {
  it('stores argon2id hashes with the parameters from PASSWORD_HASH_PARAMS, never the password', async () => {
    const name = uniqueName('peggy');
    await signUp(name);
    const [row] = await server.db.query<{ h: string }>('SELECT password_hash AS h FROM password_credentials WHERE username = ?', name);
    expect(parseArgon2idParams(row!.h)).toEqual({ memoryCost: PASSWORD_HASH_PARAMS.memoryCost, timeCost: PASSWORD_HASH_PARAMS.timeCost, parallelism: PASSWORD_HASH_PARAMS.parallelism });
    expect(row!.h).not.toContain(PASSWORD);
  });

  it('rehashes with the current parameters at the next successful login', async () => {
    const name = uniqueName('rupert');
    const created = await signUp(name);
    const weak = createPasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await server.app.store.setPasswordHash(created.user.id, await weak.hash(PASSWORD), Date.now());
    const hashOf = async () => (await server.db.query<{ h: string }>('SELECT password_hash AS h FROM password_credentials WHERE username = ?', name))[0]!.h;
    expect(parseArgon2idParams(await hashOf())?.memoryCost).toBe(4096);
    await createClient(server.url).loginWithPassword.mutate({ username: name, password: PASSWORD });
    expect(parseArgon2idParams(await hashOf())?.memoryCost).toBe(PASSWORD_HASH_PARAMS.memoryCost);
    // Still the same password.
    await createClient(server.url).loginWithPassword.mutate({ username: name, password: PASSWORD });
  });

  it('nothing about a password reaches a response or a log line', async () => {
    const secret = 'a very distinctive password 8472';
    const name = uniqueName('sybil');
    await createClient(server.url).signUp.mutate({ username: name, password: secret });
    await createClient(server.url).loginWithPassword.mutate({ username: name, password: 'another distinctive 9931' }).catch(() => undefined);
    const texts = [...server.logs];
    expect(texts.filter((t) => t.includes(secret) || t.includes('another distinctive 9931') || t.includes('$argon2'))).toEqual([]);
  });
});

describe('the code replay still holds for WeChat logins after binding', () => {
  it('a resubmitted code returns the same session', async () => {
    const code = await mintCode(server.url, uniqueName('wx'));
    const a = await createClient(server.url).login.mutate({ code });
    const b = await createClient(server.url).login.mutate({ code });
    expect(b.token).toBe(a.token);
  });
});

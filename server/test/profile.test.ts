import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, expectTRPCError, loginAs, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('updateProfile', () => {
  it('updates the nickname and avatar, and getProfile then shows them', async () => {
    const login = await loginAs(server.url, 'alice');
    const client = createClient(server.url, login.token);
    const updated = await client.updateProfile.mutate({ nickname: '  小明  ', avatarUrl: 'https://example.com/a.png' });
    expect(updated).toEqual({ ...login.user, nickname: '小明', avatarUrl: 'https://example.com/a.png' });
    expect(await client.getProfile.query()).toEqual(updated);
    const renamed = await client.updateProfile.mutate({ nickname: 'Ming' });
    expect(renamed.avatarUrl).toBe('https://example.com/a.png');
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty nickname', { nickname: '' }, /nickname is empty/],
    ['a nickname of only spaces', { nickname: '   ' }, /nickname is empty/],
    ['a 33-character nickname', { nickname: 'x'.repeat(33) }, /nickname is longer than 32/],
    ['an http:// avatar', { avatarUrl: 'http://example.com/a.png' }, /avatarUrl must be an https/],
    ['a non-URL avatar', { avatarUrl: 'not a url' }, /avatarUrl must be an https/],
    ['nothing to update', {}, /nothing to update/],
    ['an unknown field', { nickname: 'ok', isAdmin: true }, /isAdmin/],
  ];

  it.each(bad)('rejects %s with 400 invalid_input naming the field', async (_label, input, message) => {
    const login = await loginAs(server.url, 'bob');
    const client = createClient(server.url, login.token);
    const error = await expectTRPCError(client.updateProfile.mutate(input as never));
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });
    expect(error.message).toMatch(message);
    expect(await client.getProfile.query()).toEqual(login.user);
  });

  it('accepts exactly 32 characters, counting CJK characters as one each', async () => {
    const login = await loginAs(server.url, 'carol');
    const client = createClient(server.url, login.token);
    expect((await client.updateProfile.mutate({ nickname: '字'.repeat(32) })).nickname).toBe('字'.repeat(32));
  });

  it('requires a session', async () => {
    const error = await expectTRPCError(createClient(server.url).updateProfile.mutate({ nickname: 'x' }));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' });
  });
});

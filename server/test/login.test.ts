import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, loginAs, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('login flow', () => {
  it('creates a user on first login and finds it again on the next', async () => {
    const first = await loginAs(server.url, 'alice');
    expect(first.isNewUser).toBe(true);
    const second = await loginAs(server.url, 'alice');
    expect(second.isNewUser).toBe(false);
    expect(second.user.id).toBe(first.user.id);
    expect(second.token).not.toBe(first.token);
    const profile = await createClient(server.url, second.token).getProfile.query();
    expect(profile).toEqual(first.user);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlScriptPath, runRecipes, type CurlScript } from './support/curl-recipes.ts';
import { createClient, startTestServer, type TestServer } from './support/server.ts';

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** The recipe lines of the script, between its markers. */
function recipes(script: CurlScript = 'curl-recipes.sh'): string {
  const text = readFileSync(curlScriptPath(script), 'utf8');
  const start = text.indexOf('# --- recipes: start ---\n');
  const end = text.indexOf('# --- recipes: end ---');
  expect(start).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return text.slice(start + '# --- recipes: start ---\n'.length, end);
}

describe('README curl recipes', () => {
  it('are the ones in scripts/curl-recipes.sh, verbatim', () => {
    const block = recipes();
    expect(block.split('\n').length).toBeGreaterThan(20);
    expect(readFileSync(readme, 'utf8'), 'README.md "For testers" must show scripts/curl-recipes.sh between its markers').toContain(
      `\`\`\`sh\nB=http://127.0.0.1:3000\n${block}\`\`\``,
    );
  });

  it('run against a real server and do what their comments say, for every procedure', async () => {
    const run = await runRecipes(server.url, 'curl-recipes.sh');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    const parse = (i: number) => JSON.parse(lines[i]!) as any;
    expect(lines).toHaveLength(12);

    const login = parse(0).result.data;
    expect(login).toMatchObject({ isNewUser: true, user: { nickname: null } });
    const userId = login.user.id as string;
    // The token the recipes used is now revoked by their last step.
    expect(await createClient(server.url, login.token).checkSession.query()).toEqual({ valid: false, reason: 'revoked' });

    expect(parse(1).result.data).toMatchObject({ valid: true, userId });
    expect(parse(2).result.data).toEqual(login.user);
    expect(parse(3).result.data).toMatchObject({ id: userId, nickname: 'Alice', avatarUrl: 'https://example.com/alice.png' });

    const batchedQueries = parse(4);
    expect(batchedQueries).toHaveLength(2);
    expect(batchedQueries[0].result.data).toMatchObject({ id: userId, nickname: 'Alice' });
    expect(batchedQueries[1].result.data).toMatchObject({ valid: true, userId });

    const batchedMutations = parse(5);
    expect(batchedMutations[0].result.data.nickname).toBe('Al');
    expect(batchedMutations[1].error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });

    expect(parse(6).error.data).toEqual({ code: 'UNAUTHORIZED', httpStatus: 401, path: 'getProfile', reason: 'missing' });
    expect(lines[7]).toBe('401');
    expect(lines[8]).toBe('code_invalid');

    expect(parse(9)).toEqual({ result: { data: { ok: true } } });
    expect(parse(10).result.data).toEqual({ valid: false, reason: 'revoked' });
    expect(parse(11).error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'revoked' });
  });
});

describe('README curl recipes for accounts, the phone number and WeRun', () => {
  it('are the ones in scripts/curl-round2.sh, verbatim', () => {
    const block = recipes('curl-round2.sh');
    expect(readFileSync(readme, 'utf8'), 'README.md must show scripts/curl-round2.sh between its markers').toContain(`\`\`\`sh\nB=http://127.0.0.1:3000\n${block}\`\`\``);
  });

  it('run against a real server and do what their comments say', async () => {
    const fresh = await startTestServer();
    try {
      const run = await runRecipes(fresh.url, 'curl-round2.sh');
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const lines = run.stdout.trimEnd().split('\n');
      const parse = (i: number) => JSON.parse(lines[i]!) as any;
      expect(lines).toHaveLength(10);
      const account = parse(0).result.data;
      expect(account).toMatchObject({ isNewUser: true, user: { username: 'shop.bob', wechatBound: false } });
      expect(parse(1).result.data).toMatchObject({ isNewUser: false, user: { id: account.user.id } });
      expect(lines[2]).toBe('credentials_invalid');
      const bound = parse(3).result.data;
      expect(bound.user).toMatchObject({ id: account.user.id, username: 'shop.bob', wechatBound: true });
      expect(parse(4).result.data).toMatchObject({ isNewUser: false, user: { id: account.user.id, wechatBound: true } });
      expect(parse(5).result.data).toMatchObject({ id: account.user.id, phone: '138****8000' });
      expect(parse(6).result.data).toEqual({ days: 2, latest: { date: '2026-12-02', steps: 12000 } });
      expect(parse(7).result.data).toEqual({ days: [{ date: '2026-12-02', steps: 12000 }, { date: '2026-12-01', steps: 8000 }] });
      expect(parse(8)).toEqual({ result: { data: { ok: true } } });
      expect(parse(9).result.data).toMatchObject({ id: account.user.id, username: 'shop.bob', wechatBound: false });
    } finally {
      await fresh.close();
    }
  });
});

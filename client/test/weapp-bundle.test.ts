import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { createMiniProgram, type MiniProgram, type PageInstance } from './support/weapp-vm.ts';

const clientDir = resolve(import.meta.dirname, '..');
const distDir = join(clientDir, 'dist', 'weapp');

/** TARO_APP_API_URL as `taro build` (production mode) reads it from client/.env*. */
function builtApiUrl(): string {
  let value: string | undefined;
  for (const file of ['.env', '.env.local', '.env.production', '.env.production.local']) {
    const path = join(clientDir, file);
    if (!existsSync(path)) continue;
    const match = /^TARO_APP_API_URL=(.*)$/m.exec(readFileSync(path, 'utf8'));
    if (match) value = match[1]!.trim().replace(/^["']|["']$/g, '');
  }
  if (!value) throw new Error('TARO_APP_API_URL is not set in client/.env: the weapp build needs it');
  return value.replace(/\/+$/, '');
}

function bundleFiles(dir = distDir): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? bundleFiles(path) : [path];
  });
}

let server: TestServer;

beforeAll(async () => {
  // Builds dist/weapp when it is missing or older than its sources (prints Taro's output).
  execFileSync(process.execPath, [join(clientDir, 'scripts', 'ensure-build.mjs'), 'weapp'], { stdio: 'inherit' });
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await server?.close();
});

describe('the built weapp bundle', () => {
  it('never reads process.env at run time and has no H5-only code path', () => {
    const js = bundleFiles()
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // (Booleans, so a failure does not print the whole bundle.)
    expect(/process\.env/.test(js), 'the bundle reads process.env at run time').toBe(false);
    expect(js.includes('__wechat/dev/login'), 'the weapp bundle contains the H5 code source').toBe(false);
    expect(js.includes('wxkit.session.'), "the weapp bundle contains H5's per-user storage keys").toBe(false);
    expect(js.includes(builtApiUrl()), 'TARO_APP_API_URL is not inlined').toBe(true);
  });

  it('runs in a bare mini-program context: silent login, profile on the page, transparent re-login after revocation', async () => {
    const mp: MiniProgram = createMiniProgram({ distDir, builtApiUrl: builtApiUrl(), serverUrl: server.url, user: 'vm-user' });
    mp.launch();
    const page: PageInstance = mp.loadPage('pages/index/index');

    // The page shows the logged-in profile with no user action.
    await vi.waitFor(() => expect(page.texts(), `page shows: ${JSON.stringify(page.texts())}`).toContain('No nickname yet'), { timeout: 15_000 });
    const session = mp.storage.get('wxkit.session') as { token: string; userId: string };
    expect(session.token).toBeTruthy();
    expect(page.texts()).toContain(session.userId);
    expect(page.texts().some((t) => t.startsWith('Session valid until'))).toBe(true);
    expect(mp.logins).toBe(1);
    // Cold start: the login, then getProfile and checkSession batched into one request.
    expect(mp.requests.map((r) => r.path)).toEqual(['login', 'getProfile,checkSession']);
    expect(mp.requests[1]!.authorization).toBe(`Bearer ${session.token}`);

    // The server revokes the session; the next call (saving a nickname) re-logs in and succeeds.
    await createClient(server.url, session.token).logout.mutate();
    page.trigger('nickname-input', 'input', { value: 'Ada' });
    page.trigger('save', 'tap');
    await vi.waitFor(() => expect(page.texts()).toContain('Ada'), { timeout: 15_000 });
    expect(mp.logins).toBe(2);
    const after = mp.requests.slice(2).map((r) => r.path);
    // updateProfile and checkSession go out together (a mutation and a query: two requests); the 401 triggers one
    // login and one retry; the stale checkSession answer is asked again.
    expect(after).toEqual(['updateProfile', 'checkSession', 'login', 'updateProfile', 'checkSession']);
    const renewed = mp.storage.get('wxkit.session') as { token: string; userId: string };
    expect(renewed.token).not.toBe(session.token);
    expect(renewed.userId).toBe(session.userId);
  });

  it('reports its size (total and gzip) for the record', () => {
    const files = bundleFiles().filter((f) => /\.(js|json|wxml|wxss|wxs)$/.test(f));
    const total = files.reduce((sum, f) => sum + statSync(f).size, 0);
    const gzip = files.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
    console.log(`[weapp bundle] ${files.length} files, ${(total / 1024).toFixed(1)} KiB, ${(gzip / 1024).toFixed(1)} KiB gzip (per file)`);
    // WeChat's limit for the main package.
    expect(total).toBeLessThan(2 * 1024 * 1024);
  });
});

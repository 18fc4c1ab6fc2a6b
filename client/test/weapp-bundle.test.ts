import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { mintPhoneCode } from '../../server/test/support/wechat-sim.ts';
import { makePng } from '../../server/test/support/png.ts';
import { createMiniProgram, type MiniProgram, type PageInstance } from './support/weapp-vm.ts';

const clientDir = resolve(import.meta.dirname, '..');
const distDir = join(clientDir, 'dist', 'weapp');
const requireBindingDir = join(clientDir, 'dist', 'weapp-require-binding');

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
  // Builds dist/weapp (and the REQUIRE_BINDING variant) when missing or older than their sources (prints Taro's output).
  execFileSync(process.execPath, [join(clientDir, 'scripts', 'ensure-build.mjs'), 'weapp'], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(clientDir, 'scripts', 'ensure-build.mjs'), 'weapp', '--variant', 'require-binding'], { stdio: 'inherit' });
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await server?.close();
});

let userSeq = 0;
function launch(dir = distDir, user = `vm-user-${++userSeq}`): MiniProgram {
  const mp = createMiniProgram({ distDir: dir, builtApiUrl: builtApiUrl(), serverUrl: server.url, user });
  mp.launch();
  return mp;
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 15_000 });
const shows = (page: PageInstance, text: string) => expect(page.texts(), `page shows: ${JSON.stringify(page.texts())}`).toContain(text);

/** The home page, loaded and showing the profile of a fresh simulated user. */
async function home(mp: MiniProgram): Promise<PageInstance> {
  const page = mp.loadPage('pages/index/index');
  await waitFor(() => shows(page, 'No nickname yet'));
  return page;
}

/** Types into an input (an `input` event), and waits until the page rendered the value, as a person would. */
async function type(page: PageInstance, elementId: string, value: string) {
  page.trigger(elementId, 'input', { value });
  await waitFor(() => expect(page.attribute(elementId, 'value')).toBe(value));
}

/** Taps an element that navigates, and returns the page it opened once it shows `ready` (an element id). */
async function open(mp: MiniProgram, from: PageInstance, elementId: string, route: string, ready: string): Promise<PageInstance> {
  from.trigger(elementId, 'tap');
  await waitFor(() => expect(mp.currentPage()?.route).toBe(route));
  const page = mp.currentPage()!;
  await waitFor(() => expect(page.has(ready), `${route} shows #${ready}`).toBe(true));
  return page;
}

describe('the built weapp bundle', () => {
  it('never reads process.env at run time and has no H5-only code path', () => {
    const js = bundleFiles()
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // (Booleans, so a failure does not print the whole bundle.)
    expect(/process\.env/.test(js), 'the bundle reads process.env at run time').toBe(false);
    expect(js.includes('__wechat/dev/'), "the weapp bundle contains the H5 simulator stand-ins (login code, phone code, WeRun)").toBe(false);
    expect(js.includes('wxkit.session.'), "the weapp bundle contains H5's per-user storage keys").toBe(false);
    expect(js.includes(builtApiUrl()), 'TARO_APP_API_URL is not inlined').toBe(true);
    const app = JSON.parse(readFileSync(join(distDir, 'app.json'), 'utf8')) as { pages: string[] };
    expect(app.pages).toEqual(['pages/index/index', 'pages/account/index', 'pages/profile/index']);
  });

  it('runs in a bare mini-program context: silent login, profile on the page, transparent re-login after revocation', async () => {
    const mp = launch();
    const page = await home(mp);

    // The page shows the logged-in profile with no user action.
    const session = mp.storage.get('wxkit.session') as { token: string; userId: string };
    expect(session.token).toBeTruthy();
    shows(page, session.userId);
    shows(page, 'Not bound');
    expect(page.texts().some((t) => t.startsWith('Session valid until'))).toBe(true);
    expect(mp.logins).toBe(1);
    // Cold start: the login, then getProfile, getWeRun and checkSession batched into one request.
    expect(mp.requests.map((r) => r.path)).toEqual(['login', 'getProfile,getWeRun,checkSession']);
    expect(mp.requests[1]!.authorization).toBe(`Bearer ${session.token}`);

    // The server revokes the session; the next call (saving a nickname on the profile page) re-logs in and succeeds.
    await createClient(server.url, session.token).logout.mutate();
    const profile = await open(mp, page, 'go-profile', 'pages/profile/index', 'nickname-input');
    const before = mp.requests.length;
    await type(profile, 'nickname-input', 'Ada');
    profile.trigger('save', 'tap');
    // Both pages show the new nickname (one store).
    await waitFor(() => shows(page, 'Ada'));
    expect(mp.logins).toBe(2);
    expect(mp.requests.slice(before).map((r) => r.path)).toEqual(['updateProfile', 'login', 'updateProfile']);
    const renewed = mp.storage.get('wxkit.session') as { token: string; userId: string };
    expect(renewed.token).not.toBe(session.token);
    expect(renewed.userId).toBe(session.userId);
  });

  it('profile page: chooseAvatar hands a temp file, wx.uploadFile sends it as multipart, the page shows the new URL', async () => {
    const mp = launch();
    const page = await home(mp);
    const profile = await open(mp, page, 'go-profile', 'pages/profile/index', 'nickname-input');
    expect(profile.has('avatar-file'), 'the H5 file input is not in the weapp bundle').toBe(false);

    const png = makePng(96, 64);
    mp.tempFiles.set('http://tmp/chosen-avatar.png', { bytes: new Uint8Array(png), type: 'image/png' });
    profile.trigger('avatar-button', 'chooseavatar', { avatarUrl: 'http://tmp/chosen-avatar.png' });

    const mediaUrl = /\/media\/[0-9a-f]{64}\.(?:png|jpg|jpeg|webp)$/;
    await waitFor(() => expect(String(profile.attribute('avatar', 'src'))).toMatch(mediaUrl));
    const url = String(profile.attribute('avatar', 'src'));
    // One multipart upload, with the session's token; the home page shows the same picture.
    const uploads = mp.requests.filter((r) => r.api === 'uploadFile');
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatchObject({ path: '/media/avatar', status: 200, authorization: `Bearer ${(mp.storage.get('wxkit.session') as { token: string }).token}` });
    await waitFor(() => expect(page.attribute('me-avatar', 'src')).toBe(url));
    // The URL serves the re-encoded image.
    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^image\//);
    expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('home page: binds a phone through a getPhoneNumber event and syncs WeRun through wx.getWeRunData', async () => {
    const user = `vm-phone-${++userSeq}`;
    const mp = launch(distDir, user);
    const page = await home(mp);
    shows(page, 'No steps yet: tap Sync to read them from WeRun.');

    // What <Button openType="getPhoneNumber"> hands the page: a one-time code (minted here by the simulator).
    const code = await mintPhoneCode(server.url, user, '13800138000');
    page.trigger('bind-phone', 'getphonenumber', { code, errMsg: 'getPhoneNumber:ok' });
    await waitFor(() => shows(page, '138****8000'));
    expect(page.texts().join(' ')).not.toContain('13800138000');

    mp.weRunDays = [
      { date: '2026-11-29', steps: 4200 },
      { date: '2026-11-30', steps: 9100 },
      { date: '2026-12-01', steps: 12345 },
    ];
    page.trigger('sync-werun', 'tap');
    await waitFor(() => shows(page, '12,345'));
    shows(page, 'steps on Dec 1');
    expect(mp.weRunCalls).toBe(1);
    expect(mp.logins).toBe(1);
    const paths = mp.requests.map((r) => r.path);
    expect(paths.filter((p) => p === 'syncWeRun')).toHaveLength(1);
  });

  it('with REQUIRE_BINDING: an unbound user lands on the account page, binds, and sees the account', async () => {
    // The account exists already (made elsewhere, without WeChat).
    const username = `vm-account-${++userSeq}`;
    const account = await createClient(server.url).signUp.mutate({ username, password: 'correct horse' });

    const mp = launch(requireBindingDir);
    const index = mp.loadPage('pages/index/index');
    await waitFor(() => expect(mp.currentPage()?.route).toBe('pages/account/index'));
    expect(index.unloaded).toBe(true);
    expect(mp.navigations).toEqual(['redirectTo /pages/account/index']);
    const accountPage = mp.currentPage()!;
    await waitFor(() => shows(accountPage, 'An account is needed'));
    expect(mp.logins).toBe(1);

    await type(accountPage, 'username-input', username);
    await type(accountPage, 'password-input', 'correct horse');
    accountPage.trigger('bind', 'tap');

    // Bound: back on the home page, which now shows the account, on the token bindAccount answered (no extra login).
    await waitFor(() => expect(mp.currentPage()?.route).toBe('pages/index/index'));
    const home = mp.currentPage()!;
    await waitFor(() => shows(home, `Bound to ${username}`));
    shows(home, `Account: ${username}`);
    expect(mp.navigations).toEqual(['redirectTo /pages/account/index', 'reLaunch /pages/index/index']);
    expect(mp.logins).toBe(1);
    expect(mp.requests.filter((r) => r.path === 'login')).toHaveLength(1);
    const stored = mp.storage.get('wxkit.session') as { token: string; userId: string };
    expect(stored.userId).toBe(account.user.id);
    const me = await createClient(server.url, stored.token).getProfile.query();
    expect(me).toMatchObject({ id: account.user.id, username, wechatBound: true });
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

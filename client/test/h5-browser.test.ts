/**
 * The H5 build in a real browser: Debian's Chromium driven by playwright-core, against a real server (port 0,
 * simulator mode) that serves client/dist/h5 at `/`, exactly as `npm start` does. Every page is photographed at
 * 390×844 into client/test-output/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, queueFaults, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makePng } from '../../server/test/support/png.ts';

const clientDir = resolve(import.meta.dirname, '..');
const outputDir = join(clientDir, 'test-output');

/** The browser the issue asks for: Debian's chromium package (CHROMIUM_PATH overrides). */
function findChromium(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `Chromium not found (looked at ${candidates.join(', ')}). Install it with \`sudo apt-get install -y chromium\` ` +
        '(Debian/Ubuntu; .ci/run does this in CI), or point CHROMIUM_PATH at a Chromium/Chrome binary.',
    );
  }
  return found;
}

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', colorScheme: 'light' as const };
const LOAD = { timeout: 20_000 };
const PASSWORD = 'correct horse battery';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  // Same as `npm start`: build client/dist/h5 when missing or older than its sources, before the server starts.
  execFileSync(process.execPath, [join(clientDir, 'scripts', 'ensure-build.mjs'), 'h5'], { stdio: 'inherit' });
  const executablePath = findChromium();
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
  mkdirSync(outputDir, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface Traffic {
  logins: number;
  devLogins: number;
  paths: string[];
}

/** A fresh browser profile on a phone-sized screen, counting the requests it makes. */
async function openContext(): Promise<{ context: BrowserContext; page: Page; traffic: Traffic }> {
  const context = await browser.newContext(PHONE);
  const traffic: Traffic = { logins: 0, devLogins: 0, paths: [] };
  context.on('request', (request) => {
    const url = new URL(request.url());
    traffic.paths.push(url.pathname);
    if (url.pathname.startsWith('/trpc/') && url.pathname.slice(6).split(',').includes('login')) traffic.logins++;
    if (url.pathname === '/__wechat/dev/login') traffic.devLogins++;
  });
  const page = await context.newPage();
  return { context, page, traffic };
}

/** The API requests made (static files and images left out). */
function apiCalls(traffic: Traffic): string[] {
  return traffic.paths.filter((p) => p.startsWith('/trpc/') || p.startsWith('/__wechat/') || p === '/media/avatar');
}

async function storedToken(page: Page, user: string): Promise<string> {
  const raw = await page.evaluate((key) => localStorage.getItem(key), `wxkit.session.${user}`);
  expect(raw, 'the session is kept in localStorage').toBeTruthy();
  const parsed = JSON.parse(raw!) as { data?: { token?: string } };
  expect(parsed.data?.token).toBeTruthy();
  return parsed.data!.token!;
}

const text = (page: Page, selector: string) => page.locator(selector).first().textContent();

/** A photograph of the page as it settled: page transitions finished, any toast (Taro H5's `.taro__toast`) gone. */
async function shot(page: Page, name: string) {
  await page.waitForFunction(
    () =>
      document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity) &&
      Array.from(document.querySelectorAll<HTMLElement>('.taro__toast')).every((el) => getComputedStyle(el).display === 'none'),
    undefined,
    { timeout: 10_000 },
  );
  await page.screenshot({ path: join(outputDir, `${name}.png`) });
}

/** Opens the app as a simulated WeChat user and waits for the home page. */
async function openHome(page: Page, user: string) {
  await page.goto(`${server.url}/?user=${user}`);
  await expect.poll(() => text(page, '#nickname'), LOAD).toBeTruthy();
}

async function goTo(page: Page, cell: '#go-account' | '#go-profile', ready: string) {
  await page.locator(cell).click();
  await page.locator(ready).first().waitFor(LOAD);
}

async function saveNickname(page: Page, nickname: string) {
  await goTo(page, '#go-profile', '#nickname-input input');
  await page.locator('#nickname-input input').fill(nickname);
  await page.locator('#save').click();
  await page.goBack();
  await expect.poll(() => text(page, '#nickname'), LOAD).toBe(nickname);
}

async function fillCredentials(page: Page, username: string, password: string) {
  await page.locator('#username-input input').fill(username);
  await page.locator('#password-input input').fill(password);
}

let seq = 0;
const unique = (name: string) => `${name}-${Date.now().toString(36)}-${++seq}`;

describe('H5 in Chromium', () => {
  let aliceId = '';

  it('1–3. alice: silent login, nickname survives a reload, revocation is invisible to the user', async () => {
    const { context, page, traffic } = await openContext();
    try {
      // 1. The profile appears with no user action; exactly one login.
      await page.goto(`${server.url}/?user=alice`);
      await expect.poll(() => text(page, '#nickname'), LOAD).toBe('No nickname yet');
      aliceId = (await text(page, '#user-id')) ?? '';
      expect(aliceId).toMatch(/.+/);
      await expect.poll(() => text(page, '#session-line')).toMatch(/^Session valid until \d{4}-\d\d-\d\d \d\d:\d\d$/);
      expect(traffic.logins).toBe(1);
      expect(traffic.devLogins).toBe(1);
      expect(apiCalls(traffic)).toEqual(['/__wechat/dev/login', '/trpc/login', '/trpc/getProfile,getWeRun,checkSession']);

      // 2. A new nickname (saved on the profile page) shows, and survives a reload that reuses the stored token.
      await saveNickname(page, 'Alice 爱丽丝');
      traffic.paths = [];
      await page.reload();
      await expect.poll(() => text(page, '#nickname'), LOAD).toBe('Alice 爱丽丝');
      // The stored token is checked once for this show (server checkSession), then used.
      expect(apiCalls(traffic)).toEqual(['/trpc/checkSession', '/trpc/getProfile,getWeRun,checkSession']);
      expect(traffic.logins).toBe(1);
      expect(traffic.devLogins).toBe(1);

      // 3. Another client logs out with the same token: the session is revoked server-side.
      const token = await storedToken(page, 'alice');
      await createClient(server.url, token).logout.mutate();
      await saveNickname(page, 'Alice again');
      expect(traffic.logins).toBe(2); // re-logged in transparently
      expect(await storedToken(page, 'alice')).not.toBe(token);
      expect(await page.locator('#status-error').count()).toBe(0);
      await expect.poll(() => text(page, '#session-line')).toMatch(/^Session valid until/);
      expect(await text(page, '#user-id')).toBe(aliceId);
    } finally {
      await context.close();
    }
  });

  it('4. bob in a fresh context is a different user', async () => {
    const { context, page, traffic } = await openContext();
    try {
      await page.goto(`${server.url}/?user=bob`);
      await expect.poll(() => text(page, '#nickname'), LOAD).toBe('No nickname yet');
      const bobId = await text(page, '#user-id');
      expect(bobId).toMatch(/.+/);
      expect(bobId).not.toBe(aliceId);
      expect(traffic.logins).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('5. the simulator failing twice: one retry with a fresh code, then a clear message; Retry recovers', async () => {
    await queueFaults(server.url, { count: 2, errcode: -1 });
    const { context, page, traffic } = await openContext();
    try {
      await page.goto(`${server.url}/?user=carol`);
      await expect.poll(() => text(page, '#error-detail'), LOAD).toBe('WeChat did not answer. Wait a moment, then tap Retry.');
      expect(traffic.devLogins).toBe(2); // a fresh code for the retry
      expect(traffic.logins).toBe(2);
      await shot(page, 'h5-error');

      // The faults are used up: Retry logs in.
      await page.locator('#retry').click();
      await expect.poll(() => text(page, '#nickname'), LOAD).toBe('No nickname yet');
      expect(traffic.logins).toBe(3);
    } finally {
      await context.close();
    }
  });

  it('6. accounts: sign up in one context; in another, a WeChat login binds to it (wrong password first), and a reload lands on the account', async () => {
    const username = unique('ann').toLowerCase();
    // Context A: a WeChat user signs up (a username and password for this user), then detaches its WeChat, so the
    // account is left with a password only: the account a web sign-up would have made.
    const a = await openContext();
    try {
      await openHome(a.page, unique('ann-wx'));
      expect(await text(a.page, '#account-status')).toBe('Not bound');
      await goTo(a.page, '#go-account', '#username-input input');
      await shot(a.page, 'h5-account');
      await fillCredentials(a.page, username, PASSWORD);
      await a.page.locator('#sign-up').click();
      await expect.poll(() => text(a.page, '#account-username'), LOAD).toBe(username);
      expect(await text(a.page, '#account-wechat')).toBe('Bound');
      await shot(a.page, 'h5-account-bound');
      await a.page.locator('#unbind').click();
      await a.page.locator('.taro-model__confirm').click();
      await expect.poll(() => text(a.page, '#account-wechat'), LOAD).toBe('Not bound');
      expect(a.traffic.logins).toBe(1);
    } finally {
      await a.context.close();
    }

    // Context B: another WeChat user binds to that account.
    const ben = unique('ben-wx');
    const b = await openContext();
    try {
      await openHome(b.page, ben);
      await goTo(b.page, '#go-account', '#username-input input');
      // A wrong password: a clear message, and no re-login (credentials_invalid is not a session failure).
      await fillCredentials(b.page, username, 'not the password');
      await b.page.locator('#bind').click();
      await expect.poll(() => text(b.page, '#password-error'), LOAD).toBe('The username or password is wrong. Check both and try again.');
      expect(b.traffic.logins).toBe(1);
      await shot(b.page, 'h5-account-wrong-password');

      await b.page.locator('#password-input input').fill(PASSWORD);
      await b.page.locator('#bind').click();
      await expect.poll(() => text(b.page, '#account-username'), LOAD).toBe(username);
      expect(await text(b.page, '#account-wechat')).toBe('Bound');
      // bindAccount answered the account's session: stored at once, no login round trip.
      expect(b.traffic.logins).toBe(1);
      await b.page.goBack();
      await expect.poll(() => text(b.page, '#account-status'), LOAD).toBe(`Bound to ${username}`);

      // A reload lands on the account with the stored token: no login of any kind.
      b.traffic.paths = [];
      await b.page.reload();
      await expect.poll(() => text(b.page, '#account-status'), LOAD).toBe(`Bound to ${username}`);
      expect(await text(b.page, '#username')).toBe(`Account: ${username}`);
      expect(apiCalls(b.traffic)).toEqual(['/trpc/checkSession', '/trpc/getProfile,getWeRun,checkSession']);
      expect(b.traffic.logins).toBe(1);
      expect(b.traffic.devLogins).toBe(1);
    } finally {
      await b.context.close();
    }
  });

  it('7. five wrong passwords lock the username: a visible lockout with the time to wait, the buttons off', async () => {
    const { context, page, traffic } = await openContext();
    try {
      await openHome(page, unique('dan-wx'));
      await goTo(page, '#go-account', '#username-input input');
      const ghost = unique('ghost').toLowerCase();
      for (let i = 1; i <= 5; i++) {
        await fillCredentials(page, ghost, `wrong password ${i}`);
        await page.locator('#bind').click();
        await expect.poll(() => text(page, '#password-error'), LOAD).toBe('The username or password is wrong. Check both and try again.');
        await page.locator('#password-input input').fill('');
      }
      await fillCredentials(page, ghost, 'wrong password 6');
      await page.locator('#bind').click();
      await expect.poll(() => text(page, '#lockout'), LOAD).toMatch(/^Locked after too many wrong passwords\. Try again in 1[45]:\d\d\.$/);
      expect(await page.locator('#bind').getAttribute('disabled')).not.toBeNull();
      expect(await page.locator('#sign-up').getAttribute('disabled')).not.toBeNull();
      expect(traffic.logins).toBe(1);
      await shot(page, 'h5-account-locked');
      // Another username is not locked.
      await page.locator('#username-input input').fill(`${ghost}x`);
      await expect.poll(() => page.locator('#lockout').count()).toBe(0);
      expect(await page.locator('#bind').getAttribute('disabled')).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('8. avatar: a real PNG uploaded through the file input is rendered, and still there after a reload', async () => {
    const { context, page, traffic } = await openContext();
    try {
      await openHome(page, unique('erin'));
      await goTo(page, '#go-profile', '#avatar-file');
      await page.locator('#avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: makePng(240, 240) });
      const img = page.locator('#avatar img');
      await expect.poll(() => img.getAttribute('src'), LOAD).toMatch(/\/media\/[0-9a-f]{64}\.(?:png|jpg|jpeg|webp)$/);
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth), LOAD).toBeGreaterThan(0);
      const src = await img.getAttribute('src');
      expect(apiCalls(traffic).filter((p) => p === '/media/avatar')).toHaveLength(1);
      await page.locator('#nickname-input input').fill('Erin');
      await page.locator('#save').click();
      await shot(page, 'h5-profile');

      await page.reload();
      const again = page.locator('#avatar img');
      await expect.poll(() => again.getAttribute('src'), LOAD).toBe(src);
      await expect.poll(() => again.evaluate((el) => (el as HTMLImageElement).naturalWidth), LOAD).toBeGreaterThan(0);
      // The home page shows the same picture.
      await page.goBack();
      await expect.poll(() => page.locator('#me-avatar img').getAttribute('src'), LOAD).toBe(src);
    } finally {
      await context.close();
    }
  });

  it('9. phone number and WeRun through the dev buttons (the simulator stands in for WeChat)', async () => {
    const { context, page } = await openContext();
    try {
      await openHome(page, unique('fay'));
      expect(await text(page, '#werun-empty')).toBe('No steps yet: tap Sync to read them from WeRun.');
      await page.locator('#bind-phone').click();
      await expect.poll(() => text(page, '#phone-masked'), LOAD).toBe('138****8000');
      expect(await page.content()).not.toContain('13800138000');
      await page.locator('#sync-werun').click();
      await expect.poll(() => text(page, '#werun-latest'), LOAD).toMatch(/^\d{1,2},\d{3}$/);
      expect(await page.locator('#werun-days .werun__bar').count()).toBe(7);
      await saveNickname(page, 'Fay');
      await shot(page, 'h5-home');
    } finally {
      await context.close();
    }
  });

  it('serves the build with the right caching: index.html revalidated, hashed assets immutable', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/(?:js|css)\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const response = await fetch(`${server.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
    }
    // The API is still where it was.
    expect((await fetch(`${server.url}/trpc/checkSession`)).status).toBe(200);
  });
});

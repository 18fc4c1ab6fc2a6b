/**
 * The H5 build in a real browser: Debian's Chromium driven by playwright-core, against a real server (port 0,
 * simulator mode) that serves client/dist/h5 at `/`, exactly as `npm start` does.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, queueFaults, startTestServer, type TestServer } from '../../server/test/support/server.ts';

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

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };

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

/** The API requests made (static files left out). */
function apiCalls(traffic: Traffic): string[] {
  return traffic.paths.filter((p) => p.startsWith('/trpc/') || p.startsWith('/__wechat/'));
}

async function storedToken(page: Page, user: string): Promise<string> {
  const raw = await page.evaluate((key) => localStorage.getItem(key), `wxkit.session.${user}`);
  expect(raw, 'the session is kept in localStorage').toBeTruthy();
  const parsed = JSON.parse(raw!) as { data?: { token?: string } };
  expect(parsed.data?.token).toBeTruthy();
  return parsed.data!.token!;
}

async function saveNickname(page: Page, nickname: string) {
  await page.locator('#nickname-input input').fill(nickname);
  await page.locator('#save').click();
  await expect.poll(() => page.locator('#nickname').textContent()).toBe(nickname);
}

describe('H5 in Chromium', () => {
  let aliceId = '';

  it('1–3. alice: silent login, nickname survives a reload, revocation is invisible to the user', async () => {
    const { context, page, traffic } = await openContext();
    try {
      // 1. The profile appears with no user action; exactly one login.
      await page.goto(`${server.url}/?user=alice`);
      await expect.poll(() => page.locator('#nickname').textContent(), { timeout: 20_000 }).toBe('No nickname yet');
      aliceId = (await page.locator('#user-id').textContent()) ?? '';
      expect(aliceId).toMatch(/.+/);
      await expect.poll(() => page.locator('#session-line').textContent()).toMatch(/^Session valid until \d{4}-\d\d-\d\d \d\d:\d\d$/);
      expect(traffic.logins).toBe(1);
      expect(traffic.devLogins).toBe(1);
      expect(apiCalls(traffic)).toEqual(['/__wechat/dev/login', '/trpc/login', '/trpc/getProfile,checkSession']);

      // 2. A new nickname shows, and survives a reload that reuses the stored token (no new login).
      await saveNickname(page, 'Alice 爱丽丝');
      traffic.paths = [];
      await page.reload();
      await expect.poll(() => page.locator('#nickname').textContent(), { timeout: 20_000 }).toBe('Alice 爱丽丝');
      // The stored token is checked once for this show (server checkSession), then used.
      expect(apiCalls(traffic)).toEqual(['/trpc/checkSession', '/trpc/getProfile,checkSession']);
      await page.screenshot({ path: join(outputDir, 'h5-alice.png'), fullPage: true });
      expect(traffic.logins).toBe(1);
      expect(traffic.devLogins).toBe(1);

      // 3. Another client logs out with the same token: the session is revoked server-side.
      const token = await storedToken(page, 'alice');
      await createClient(server.url, token).logout.mutate();
      await saveNickname(page, 'Alice again');
      expect(traffic.logins).toBe(2); // re-logged in transparently
      expect(await storedToken(page, 'alice')).not.toBe(token);
      expect(await page.locator('#form-error').count()).toBe(0);
      expect(await page.locator('#status-error').count()).toBe(0);
      await expect.poll(() => page.locator('#session-line').textContent()).toMatch(/^Session valid until/);
      expect(await page.locator('#user-id').textContent()).toBe(aliceId);
    } finally {
      await context.close();
    }
  });

  it('4. bob in a fresh context is a different user', async () => {
    const { context, page, traffic } = await openContext();
    try {
      await page.goto(`${server.url}/?user=bob`);
      await expect.poll(() => page.locator('#nickname').textContent(), { timeout: 20_000 }).toBe('No nickname yet');
      const bobId = await page.locator('#user-id').textContent();
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
      await expect.poll(() => page.locator('#error-detail').textContent(), { timeout: 20_000 }).toBe(
        'WeChat did not answer the login. Wait a moment, then tap Retry.',
      );
      expect(traffic.devLogins).toBe(2); // a fresh code for the retry
      expect(traffic.logins).toBe(2);
      await page.screenshot({ path: join(outputDir, 'h5-wechat-unavailable.png'), fullPage: true });

      // The faults are used up: Retry logs in.
      await page.locator('#retry').click();
      await expect.poll(() => page.locator('#nickname').textContent(), { timeout: 20_000 }).toBe('No nickname yet');
      expect(traffic.logins).toBe(3);
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

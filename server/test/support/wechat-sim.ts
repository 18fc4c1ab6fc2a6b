import Fastify, { type FastifyInstance } from 'fastify';
import { SIMULATOR_SECRET } from '../../src/app.ts';
import { wechatSimulatorPlugin } from '../../src/plugins/wechat-simulator.ts';
import { createWeChatClient, type WeChatClient } from '../../src/wechat/client.ts';
import type { WeChatApi } from '../../src/wechat/errors.ts';
import { SIMULATOR_APPID, type SimulatorOptions } from '../../src/wechat/simulator.ts';

// Helpers for the simulator's WeChat-side API and its dev endpoints. `url` is a server's root (the simulator is at
// `${url}/__wechat`), as returned by startTestServer or startBareSimulator.

export interface SimulatorStats {
  exchanges: number;
  liveCodes: number;
  queuedFaults: number;
  stableTokenCalls: number;
  tokenCalls: number;
  phoneCalls: number;
  checkSessionCalls: number;
}

export interface ApiFault {
  count: number;
  /** Which WeChat API misbehaves; the simulator's default is jscode2session. */
  api?: WeChatApi;
  errcode?: number;
  delayMs?: number;
  status?: number;
  body?: string;
}

async function post<T>(url: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}/__wechat${path}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`simulator ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/** Stands in for `<Button openType="getPhoneNumber">`: a single-use code for the user's phone. */
export async function mintPhoneCode(url: string, user: string, phone: string, countryCode?: string): Promise<string> {
  return (await post<{ code: string }>(url, '/dev/phone-code', { user, phone, ...(countryCode ? { countryCode } : {}) })).code;
}

/** Stands in for wx.getWeRunData: the days, encrypted with the user's latest session_key. */
export async function werunPayload(url: string, user: string, days: Array<{ date: string; steps: number }>): Promise<{ encryptedData: string; iv: string }> {
  return post(url, '/dev/werun', { user, days });
}

/** Every access_token issued so far answers 42001 from now on. Returns how many were live. */
export async function expireAccessToken(url: string): Promise<number> {
  return (await post<{ expired: number }>(url, '/dev/expire-access-token')).expired;
}

export async function simulatorStats(url: string): Promise<SimulatorStats> {
  const response = await fetch(`${url}/__wechat/dev/stats`);
  if (!response.ok) throw new Error(`simulator /dev/stats answered ${response.status}`);
  return (await response.json()) as SimulatorStats;
}

/** Queues faults for one WeChat API (`api`, default jscode2session). */
export async function queueFaults(url: string, fault: ApiFault): Promise<void> {
  await post(url, '/dev/faults', fault);
}

export async function clearFaults(url: string): Promise<void> {
  const response = await fetch(`${url}/__wechat/dev/faults`, { method: 'DELETE' });
  if (!response.ok) throw new Error(`simulator DELETE /dev/faults answered ${response.status}`);
}

/** Mints a wx.login code and exchanges it at the simulator directly, as the app's login does: WeChat's answer. */
export async function exchangeAtSimulator(url: string, user: string): Promise<{ openid: string; sessionKey: string }> {
  const { code } = await post<{ code: string }>(url, '/dev/login', { user });
  const query = new URLSearchParams({ appid: SIMULATOR_APPID, secret: SIMULATOR_SECRET, js_code: code, grant_type: 'authorization_code' });
  const response = await fetch(`${url}/__wechat/sns/jscode2session?${query}`);
  const body = (await response.json()) as { openid?: string; session_key?: string };
  if (!body.openid || !body.session_key) throw new Error(`jscode2session failed: ${JSON.stringify(body)}`);
  return { openid: body.openid, sessionKey: body.session_key };
}

export interface BareSimulator {
  app: FastifyInstance;
  /** The server's root; the simulator is at `${url}/__wechat`. */
  url: string;
  close(): Promise<void>;
}

/** Just the simulator on 127.0.0.1, port 0: no database, no app, for tests of WeChat's side alone. */
export async function startBareSimulator(options: Partial<Omit<SimulatorOptions, 'appId' | 'secret'>> = {}): Promise<BareSimulator> {
  const app = Fastify({ logger: false });
  await app.register(wechatSimulatorPlugin, { appId: SIMULATOR_APPID, secret: SIMULATOR_SECRET, ...options });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, close: () => app.close() };
}

/** The app's WeChat client, pointed at a simulator (or anything else answering at `${url}/__wechat`). */
export function wechatClientFor(url: string, options: { timeoutMs?: number; secret?: string; appId?: string } = {}): WeChatClient {
  return createWeChatClient({
    appId: options.appId ?? SIMULATOR_APPID,
    secret: options.secret ?? SIMULATOR_SECRET,
    apiBase: () => `${url}/__wechat`,
    timeoutMs: options.timeoutMs ?? 5_000,
  });
}

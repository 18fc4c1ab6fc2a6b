/**
 * The WeChat simulator on its own, in its own process and port, as WeChat is another machine: servers under test
 * (ours in real mode) reach it through WECHAT_API_BASE=<url>/__wechat with the AppID and secret given here as
 * WECHAT_APPID / WECHAT_SECRET, and the bench mints login codes from it. Bundled by bench/run.mjs.
 */
import Fastify from 'fastify';
import { wechatSimulator } from '../../server/src/wechat/simulator.ts';

const appId = process.env.WECHAT_APPID;
const secret = process.env.WECHAT_SECRET;
if (!appId || !secret) throw new Error('set WECHAT_APPID and WECHAT_SECRET: the pair the server under test uses');
const app = Fastify();
await app.register(wechatSimulator, { prefix: '/__wechat', appId, secret });
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`bench server ready: ${address}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void app.close().then(() => process.exit(0)));

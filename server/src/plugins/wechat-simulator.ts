import fp from 'fastify-plugin';
import { wechatSimulator, type SimulatorOptions } from '../wechat/simulator.ts';

/** Mounts the WeChat simulator at `/__wechat`. Registered in simulator mode only. */
export const wechatSimulatorPlugin = fp<SimulatorOptions>(
  async (app, options) => {
    await app.register(wechatSimulator, { ...options, prefix: '/__wechat' });
  },
  { name: 'wechat-simulator' },
);

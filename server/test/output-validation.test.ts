import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfig } from '../src/config.ts';
import { skipsOutputCheck } from '../src/plugins/trpc.ts';
import { appRouter } from '../src/router.ts';
import type { Context } from '../src/trpc/context.ts';
import { fastTRPCPlugin } from '../src/trpc/fast-handler.ts';
import { publicProcedure, router } from '../src/trpc/init.ts';
import { startTestServer } from './support/server.ts';

/**
 * Production's fast path skips the zod output check of procedures marked `outputFromTypedRows` (the output is built
 * field by field from typed rows); every test server turns the check back on, so a resolver that breaks its schema
 * fails the suites.
 */

describe('output validation in tests', () => {
  it('is on for every test server, and off by default', async () => {
    const server = await startTestServer();
    try {
      expect(server.config.validateOutputs).toBe(true);
    } finally {
      await server.close();
    }
    expect(parseConfig({ DATABASE_PATH: ':memory:' }).validateOutputs).toBe(false);
    expect(parseConfig({ DATABASE_PATH: ':memory:', WXKIT_VALIDATE_OUTPUTS: '1' }).validateOutputs).toBe(true);
  });

  it('is skipped only for procedures marked outputFromTypedRows, and only when not validating', () => {
    const procedures = appRouter._def.procedures;
    const skip = skipsOutputCheck(false);
    expect(skip(procedures.getProfile)).toBe(true);
    expect(skip(procedures.checkSession)).toBe(true);
    expect(skip(procedures.getWeRun)).toBe(false);
    expect(skipsOutputCheck(true)(procedures.getProfile)).toBe(false);
  });
});

describe('a marked procedure whose output breaks its schema', () => {
  // What the check exists to catch: a resolver answering something its schema refuses.
  const broken = router({
    broken: publicProcedure
      .meta({ outputFromTypedRows: true })
      .output(z.object({ name: z.string() }))
      .query(() => ({ name: 42 }) as unknown as { name: string }),
  });
  const ctx = {} as Context;
  let apps: FastifyInstance[] = [];
  const serve = async (register: (app: FastifyInstance) => Promise<void>) => {
    const app = Fastify();
    await register(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push(app);
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    return `http://127.0.0.1:${address.port}/trpc/broken`;
  };
  let stockUrl: string;
  let checkedUrl: string;
  let skippedUrl: string;

  beforeAll(async () => {
    stockUrl = await serve(async (app) => void (await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions: { router: broken, createContext: () => ctx } })));
    const fast = (validate: boolean) => async (app: FastifyInstance) =>
      void (await app.register(fastTRPCPlugin, { prefix: '/trpc', router: broken, createContext: () => ctx, skipOutputValidation: skipsOutputCheck(validate) }));
    checkedUrl = await serve(fast(true));
    skippedUrl = await serve(fast(false));
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });

  it('fails as the stock adapter fails when outputs are validated (tests)', async () => {
    const [stock, checked] = await Promise.all([fetch(stockUrl), fetch(checkedUrl)]);
    expect(checked.status).toBe(500);
    expect(stock.status).toBe(500);
    expect(await checked.text()).toBe(await stock.text());
  });

  it('goes out unchecked on the fast path otherwise (why only outputs built from typed rows are marked)', async () => {
    const skipped = await fetch(skippedUrl);
    expect(skipped.status).toBe(200);
    expect(await skipped.json()).toEqual({ result: { data: { name: 42 } } });
  });
});

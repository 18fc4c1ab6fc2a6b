import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAccountService } from './accounts/account-service.ts';
import { createPasswordHasher } from './accounts/passwords.ts';
import { createAuthService } from './auth/auth-service.ts';
import { resolveServerSecret } from './auth/jwt-secret.ts';
import { createSecretBox } from './auth/secret-box.ts';
import { createTokenService } from './auth/tokens.ts';
import { createAccessTokenManager } from './wechat-data/access-token.ts';
import { createPhoneService } from './wechat-data/phone.ts';
import { createSessionKeyService } from './wechat-data/session-key.ts';
import { createWeRunService } from './wechat-data/werun-service.ts';
import type { Config } from './config.ts';
import { lazyChildLoggerFactory, loggerOptions } from './logger.ts';
import { connectionDrainPlugin } from './plugins/connection-drain.ts';
import { databasePlugin } from './plugins/database.ts';
import { clientErrorHandler, frameworkErrors, httpErrorsPlugin, MAX_PARAM_LENGTH } from './plugins/http-errors.ts';
import { loginRateLimitPlugin } from './plugins/login-rate-limit.ts';
import { mediaRoutesPlugin } from './plugins/media-routes.ts';
import { mediaStoragePlugin } from './plugins/media-storage.ts';
import { openapiPlugin } from './plugins/openapi.ts';
import { simulatorProxyPlugin } from './plugins/simulator-proxy.ts';
import { staticH5Plugin } from './plugins/static-h5.ts';
import { trpcPlugin, type TRPCAdapter } from './plugins/trpc.ts';
import { wechatSimulatorPlugin } from './plugins/wechat-simulator.ts';
import { createWeChatClient } from './wechat/client.ts';
import { SIMULATOR_APPID, type SimulatorOptions } from './wechat/simulator.ts';

/** The simulator's AppSecret. Not a secret: the simulator is for development and tests only. */
export const SIMULATOR_SECRET = 'simulator-secret-not-for-production';

export interface BuildAppOptions {
  /** Where pino writes (tests capture it). Default: stdout. */
  logStream?: NodeJS.WritableStream;
  /** Simulator knobs for tests (code lifetime, rate). */
  simulator?: Partial<Pick<SimulatorOptions, 'codeTtlMs' | 'ratePerMinute'>>;
  /** Clock for tests. */
  now?: () => number;
  /** How `/trpc` is served: the fast handler (default) or tRPC's stock adapter (wire-compatibility tests). */
  trpcAdapter?: TRPCAdapter;
}

/** Builds the whole app without listening: `server.ts` owns `listen`, tests use port 0. */
export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    // Each request's child logger is made on first use: nothing logs per request above info level.
    childLoggerFactory: lazyChildLoggerFactory,
    // Batched tRPC paths (`/trpc/getProfile,checkSession`) can be long.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: 64 * 1024,
    // Headers over Node's 16 KiB limit get a 431 whose body says what to do.
    clientErrorHandler,
    frameworkErrors,
  });

  await app.register(connectionDrainPlugin);
  await app.register(databasePlugin, { path: config.databasePath, url: config.databaseUrl, poolSize: config.databasePoolSize });
  // Avatars: the storage (folder or bucket) and their lifecycle; closed before the database.
  await app.register(mediaStoragePlugin, { config: config.media, ...(options.now ? { now: options.now } : {}) });

  // Simulator mode: the simulator is embedded, or, in a cluster worker, the primary's one reached through a proxy.
  const upstream = config.wechat.kind === 'simulator' ? config.simulatorUpstream : undefined;
  const upstreamBase = upstream ? `${upstream}/__wechat` : undefined;
  const wechat =
    config.wechat.kind === 'real'
      ? config.wechat
      : { appId: SIMULATOR_APPID, secret: SIMULATOR_SECRET, apiBase: config.wechat.apiBase ?? upstreamBase };
  if (upstreamBase) {
    await app.register(simulatorProxyPlugin, { upstream: upstreamBase });
  } else if (config.wechat.kind === 'simulator') {
    await app.register(wechatSimulatorPlugin, { appId: SIMULATOR_APPID, secret: SIMULATOR_SECRET, ...options.simulator });
  }

  const wechatClient = createWeChatClient({
    appId: wechat.appId,
    secret: wechat.secret,
    timeoutMs: config.wechatTimeoutMs,
    apiBase: () => wechat.apiBase ?? ownSimulatorBase(app),
  });
  // After requests in flight have finished: drop the kept-alive sockets to WeChat (or to our own simulator).
  app.addHook('onClose', async () => wechatClient.close());
  const serverSecret = await resolveServerSecret(config, app.store);
  const tokens = createTokenService(serverSecret);
  // Seals WeChat's session_key and access_token at rest, with a key derived from the server secret.
  const secretBox = createSecretBox(serverSecret);
  const clock = options.now ? { now: options.now } : {};
  const store = app.store;
  const authService = createAuthService({
    store,
    tokens,
    wechat: wechatClient,
    secretBox,
    sessionTtlSeconds: config.sessionTtlSeconds,
    wechatTimeoutMs: config.wechatTimeoutMs,
    ...clock,
    log: app.log,
  });
  const accountService = createAccountService({ store, auth: authService, passwords: createPasswordHasher(), onMediaReleased: (key) => app.mediaService.release(key), log: app.log });
  const accessTokens = createAccessTokenManager({ store, wechat: wechatClient, appId: wechat.appId, secretBox, timeoutMs: config.wechatTimeoutMs, ...clock, log: app.log });
  const sessionKeys = createSessionKeyService({ store, secretBox, wechat: wechatClient, accessTokens, ...clock, log: app.log });
  const phoneService = createPhoneService({ store, wechat: wechatClient, accessTokens, appId: wechat.appId, ...clock });
  const weRunService = createWeRunService({ store, sessionKeys, appId: wechat.appId, ...clock, log: app.log });

  // For load balancers: 503 while the database cannot answer, so traffic goes to instances that can serve it.
  app.get('/healthz', async (_request, reply) => {
    try {
      await store.ping();
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false, reason: 'database_unavailable', message: 'The database is not reachable: this instance cannot serve requests until it is back.' });
    }
  });
  await app.register(httpErrorsPlugin);
  await app.register(loginRateLimitPlugin, { perMinute: config.loginRateLimitPerMinute, ...clock });
  await app.register(trpcPlugin, { services: { authService, accountService, phoneService, weRunService, sessionKeys, mediaService: app.mediaService }, ...(options.trpcAdapter ? { adapter: options.trpcAdapter } : {}), validateOutputs: config.validateOutputs });
  await app.register(mediaRoutesPlugin, { authService, publicUrl: config.publicUrl });
  await app.register(openapiPlugin, { simulator: config.wechat.kind === 'simulator' });
  // The mini-program's H5 build at `/` (client/dist/h5); the API stays at /trpc.
  await app.register(staticH5Plugin);

  return app;
}

/** The embedded simulator is reached over HTTP at our own address, exactly as WeChat would be. */
function ownSimulatorBase(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo | null;
  if (!address) throw new Error('the server is not listening yet, so the embedded WeChat simulator cannot be reached');
  const host = address.family === 'IPv6' ? (address.address === '::' ? '[::1]' : `[${address.address}]`) : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
  return `http://${host}:${address.port}/__wechat`;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { FastifyInstance } from 'fastify';
import { buildApp, SIMULATOR_SECRET, type BuildAppOptions } from '../../src/app.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import type { AppRouter } from '../../src/router.ts';
import { freshDatabaseUrl, testBackend } from './pg-global-setup.ts';
import { startServerProcess } from './server-process.ts';
import { testDbOf, type TestDb } from './test-db.ts';

export interface TestServer {
  app: FastifyInstance;
  url: string;
  config: Config;
  /** Every log line this server wrote, as text. */
  logs: string[];
  /** Raw reads of its database (either backend). */
  db: TestDb;
  close(): Promise<void>;
}

/** Every app response body and log line of every test server in this worker, so suites can scan them for secrets. */
export const responseBodies: string[] = [];
export const allLogLines: string[] = [];
/**
 * Every openid, unionid, session_key, access_token and phone number the simulator issued in this worker (read from
 * its own responses).
 */
export const issuedSecrets = new Set<string>();
/** Other encodings of the issued session_keys (hex, base64url): a leak is a leak in any encoding. */
const issuedSecretEncodings = new Set<string>();

/** WeChat's side of the simulator: its answers carry what we must never pass on. The dev helpers are the client's side. */
const simulatorApiPath = /^\/__wechat\/(?:sns|cgi-bin|wxa)\//;

function recordSimulatorAnswer(body: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return; // a fault's raw body: nothing issued
  }
  if (typeof parsed !== 'object' || parsed === null) return;
  const answer = parsed as Record<string, unknown>;
  for (const key of ['openid', 'unionid', 'session_key', 'access_token']) {
    if (typeof answer[key] === 'string') issuedSecrets.add(answer[key] as string);
  }
  if (typeof answer.session_key === 'string') {
    const bytes = Buffer.from(answer.session_key, 'base64');
    issuedSecretEncodings.add(bytes.toString('hex'));
    issuedSecretEncodings.add(bytes.toString('base64url'));
  }
  const phone = answer.phone_info;
  if (typeof phone === 'object' && phone !== null) {
    for (const key of ['phoneNumber', 'purePhoneNumber']) {
      const value = (phone as Record<string, unknown>)[key];
      if (typeof value === 'string') issuedSecrets.add(value);
    }
  }
}

/** Texts (app responses + log lines) that contain any issued secret, or any of `extra`. Empty means clean. */
export function findLeaks(extra: string[] = []): string[] {
  const encodings = [...issuedSecretEncodings].flatMap((encoded) => [encoded, encoded.toUpperCase()]);
  const needles = [...issuedSecrets, ...encodings, ...extra].filter((s) => s.length >= 8);
  return [...responseBodies, ...allLogLines].filter((text) => needles.some((needle) => text.includes(needle)));
}

/**
 * A real Fastify server on 127.0.0.1, port 0, with a real database and the embedded simulator reached over HTTP.
 * The database: a SQLite file in a temp folder (unless `DATABASE_PATH` is passed), or with WXKIT_TEST_BACKEND=pg a
 * fresh database on the run's throwaway PostgreSQL (unless `DATABASE_URL` is passed).
 */
export async function startTestServer(env: Record<string, string> = {}, options: BuildAppOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wxkit-test-'));
  const usePg = testBackend() === 'pg' && env.DATABASE_PATH === undefined;
  // MEDIA_DIR too: on PostgreSQL there is no database file for it to sit beside.
  const database: Record<string, string> = usePg ? { DATABASE_URL: env.DATABASE_URL ?? (await freshDatabaseUrl()), MEDIA_DIR: join(dir, 'media') } : { DATABASE_PATH: join(dir, 'app.db') };
  // Suites log in far more than the default 30 a minute from 127.0.0.1: the login rate limit is opted into by setting it.
  // Every output is checked against its schema, including those production's fast path trusts.
  const fullEnv = { ...database, LOG_LEVEL: 'info', PORT: '0', LOGIN_RATE_LIMIT_PER_MINUTE: '100000', WXKIT_VALIDATE_OUTPUTS: '1', ...env };
  if (clusterWorkers() !== undefined) return startClusterTestServer(fullEnv, options, dir);
  const config = parseConfig(fullEnv);
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const line = chunk.toString('utf8');
      logs.push(line);
      allLogLines.push(line);
      callback();
    },
  });
  const app = await buildApp(config, { logStream, ...options });
  app.addHook('onSend', async (request, _reply, payload) => {
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
    if (body === undefined) return payload;
    // The simulator plays WeChat: its answers carry the secrets we must never pass on.
    if (simulatorApiPath.test(request.url)) recordSimulatorAnswer(body);
    else responseBodies.push(body);
    return payload;
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const db = testDbOf(app, config.databaseUrl);
  return {
    app,
    url,
    config,
    logs,
    db,
    async close() {
      await app.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** WXKIT_TEST_WORKERS=N (`npm run test:workers`): HTTP suites run against `npm start`'s cluster of N workers instead. */
const clusterWorkers = () => process.env.WXKIT_TEST_WORKERS || undefined;

/**
 * The workers pass: the real entry point in a child process with WORKERS=N on one port. Only HTTP is shared with the
 * suite: `logs` are the processes' output lines; `app` and `db` (one process's insides) throw, so a suite that
 * inspects one process cannot be in this pass by mistake.
 */
async function startClusterTestServer(env: Record<string, string>, options: BuildAppOptions, dir: string): Promise<TestServer> {
  if (Object.keys(options).length > 0) {
    throw new Error(`this suite builds the app in-process (options: ${Object.keys(options).join(', ')}), so it cannot run in the WXKIT_TEST_WORKERS pass`);
  }
  const workers = clusterWorkers()!;
  const config = parseConfig({ ...env, WORKERS: workers });
  const server = await startServerProcess({ ...env, WORKERS: workers }, { readyTimeoutMs: 60_000 });
  // The processes' JSON log lines, as they come (a line may span chunks); into allLogLines too, for the leak scan.
  const logs: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer | string) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      logs.push(line + '\n');
      allLogLines.push(line + '\n');
    }
  };
  collect(server.output());
  server.child.stdout?.on('data', collect);
  const insideOneProcess = (what: string) => () => {
    throw new Error(`server.${what} inspects one process; this suite is not part of the WXKIT_TEST_WORKERS=${workers} pass`);
  };
  const testServer = {
    url: server.url,
    config,
    logs,
    async close() {
      const code = await server.stop();
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`the cluster exited with ${code} on SIGTERM:\n${server.output().slice(-2000)}`);
    },
  };
  Object.defineProperty(testServer, 'app', { get: insideOneProcess('app') });
  Object.defineProperty(testServer, 'db', { get: insideOneProcess('db') });
  return testServer as TestServer;
}

/** Stands in for wx.login: mints a one-time code for a simulated user. */
export async function mintCode(url: string, user = 'dev-user'): Promise<string> {
  const response = await fetch(`${url}/__wechat/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  if (!response.ok) throw new Error(`simulator /dev/login answered ${response.status}`);
  return ((await response.json()) as { code: string }).code;
}

export interface Fault {
  count: number;
  errcode?: number;
  delayMs?: number;
  status?: number;
  body?: string;
}

export async function queueFaults(url: string, fault: Fault): Promise<void> {
  const response = await fetch(`${url}/__wechat/dev/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (!response.ok) throw new Error(`simulator /dev/faults answered ${response.status}: ${await response.text()}`);
}

/** How many code2Session requests reached the simulator so far. */
export async function simulatorExchanges(url: string): Promise<number> {
  const response = await fetch(`${url}/__wechat/dev/stats`);
  return ((await response.json()) as { exchanges: number }).exchanges;
}

/** The real tRPC client, as the mini-program uses it (batching, no transformer). */
export function createClient(url: string, token?: string | (() => string | undefined)) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${url}/trpc`,
        headers() {
          const value = typeof token === 'function' ? token() : token;
          return value ? { authorization: `Bearer ${value}` } : {};
        },
      }),
    ],
  });
}

export async function loginAs(url: string, user = 'dev-user') {
  return createClient(url).login.mutate({ code: await mintCode(url, user) });
}

/** Awaits a call that must fail and returns its tRPC error. */
export async function expectTRPCError(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as TRPCClientError<AppRouter>;
    throw error;
  }
  throw new Error('expected the call to fail with a tRPC error, but it succeeded');
}

export { SIMULATOR_SECRET };

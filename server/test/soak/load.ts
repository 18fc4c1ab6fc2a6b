import { Agent, request } from 'node:http';

/**
 * The soak's load generator, a separate process (forked by run.ts, IPC for orders and results). Each of N virtual
 * users loops through a mini-program's life: wx.login (the simulator's /dev/login), login, reads, an update, and
 * half the time logout. It keeps every session it holds (logged in, not logged out) so run.ts can check them after
 * a crash. Connections are capped at N by a keep-alive agent on 127.0.0.1.
 */

interface Order {
  url: string;
  connections: number;
  /** Stop by itself after this long; 0 = run until told to stop. */
  seconds: number;
  /** Label for user names, so two runs never share a simulated user. */
  label: string;
}

export interface LoadReport {
  requests: number;
  /** Answers with an unexpected status (any non-2xx), or network errors while the server was meant to be up. */
  httpErrors: number;
  networkErrors: number;
  errorSamples: string[];
  byOp: Record<string, number>;
  /** Sessions this run holds: issued (login answered 200) and not logged out. */
  liveSessions: Array<{ token: string; userId: string }>;
  /** Logouts whose answer never came (the server died): whether they were applied is unknown. */
  ambiguousSessions: number;
  /** Which operations the network errors cut (the crash phase), by name. */
  cutOps: Record<string, number>;
  elapsedMs: number;
}

let stopping = false;
const report: LoadReport = { requests: 0, httpErrors: 0, networkErrors: 0, errorSamples: [], byOp: {}, liveSessions: [], ambiguousSessions: 0, cutOps: {}, elapsedMs: 0 };
const live = new Map<string, string>();

class NetworkError extends Error {}

function call(agent: Agent, base: URL, op: string, method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          report.requests++;
          report.byOp[op] = (report.byOp[op] ?? 0) + 1;
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            report.httpErrors++;
            if (report.errorSamples.length < 20) report.errorSamples.push(`${op} ${method} ${path.split('?')[0]} → ${status} ${text.slice(0, 200)}`);
          }
          resolve({ status, json });
        });
        res.on('error', (e) => reject(new NetworkError(`${op}: ${e.message}`)));
      },
    );
    req.on('error', (e) => reject(new NetworkError(`${op}: ${e.message}`)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

async function virtualUser(agent: Agent, base: URL, vu: number, label: string) {
  let iteration = 0;
  while (!stopping) {
    // 20 users per VU in rotation: WeChat (and the simulator) allow 100 exchanges a minute per user.
    const user = `soak-${label}-${vu}-${iteration++ % 20}`;
    const minted = await call(agent, base, 'wx.login', 'POST', '/__wechat/dev/login', { user });
    const code = (minted.json as { code?: string } | undefined)?.code;
    if (!code) continue;
    const login = await call(agent, base, 'login', 'POST', '/trpc/login', { code });
    const data = (login.json as { result?: { data?: { token: string; user: { id: string } } } } | undefined)?.result?.data;
    if (!data) continue;
    live.set(data.token, data.user.id);
    const token = data.token;
    for (let i = 0; i < 3 && !stopping; i++) await call(agent, base, 'getProfile', 'GET', '/trpc/getProfile', undefined, token);
    if (stopping) break;
    await call(agent, base, 'checkSession', 'GET', '/trpc/checkSession', undefined, token);
    await call(agent, base, 'updateProfile', 'POST', '/trpc/updateProfile', { nickname: `vu${vu}-${iteration}` }, token);
    await call(agent, base, 'batch', 'GET', '/trpc/getProfile,checkSession?batch=1', undefined, token);
    if (stopping) break;
    if (iteration % 2 === 0) {
      live.delete(token);
      try {
        await call(agent, base, 'logout', 'POST', '/trpc/logout', {}, token);
      } catch (error) {
        report.ambiguousSessions++;
        throw error;
      }
    }
  }
}

async function run(order: Order) {
  const base = new URL(order.url);
  const agent = new Agent({ keepAlive: true, maxSockets: order.connections });
  const started = performance.now();
  const progress = setInterval(() => {
    process.send?.({ type: 'progress', requests: report.requests, httpErrors: report.httpErrors, networkErrors: report.networkErrors, liveSessions: live.size });
  }, 5_000);
  if (order.seconds > 0) setTimeout(() => (stopping = true), order.seconds * 1000);
  await Promise.all(
    Array.from({ length: order.connections }, async (_, vu) => {
      // A VU whose connection died (the crash phase) stops; run.ts decides whether that was expected.
      try {
        await virtualUser(agent, base, vu, order.label);
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        report.networkErrors++;
        report.cutOps[error.message.split(':')[0] ?? '?'] = (report.cutOps[error.message.split(':')[0] ?? '?'] ?? 0) + 1;
      }
    }),
  );
  clearInterval(progress);
  agent.destroy();
  report.elapsedMs = performance.now() - started;
  report.liveSessions = [...live].map(([token, userId]) => ({ token, userId }));
  process.send?.({ type: 'done', report });
}

process.on('message', (message: { type: string; order?: Order }) => {
  if (message.type === 'start' && message.order) {
    run(message.order).catch((error: unknown) => {
      process.send?.({ type: 'failed', error: String(error) });
    });
  }
  if (message.type === 'stop') stopping = true;
});

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generalHelp } from '../src/cli/help.ts';
import { listProcedures } from '../src/openapi/procedures.ts';
import { appRouter } from '../src/router.ts';
import { mergeRouters, protectedProcedure, publicProcedure, router } from '../src/trpc/init.ts';
import { createClient, mintCode, queueFaults, responseBodies, simulatorExchanges, startTestServer, type TestServer } from './support/server.ts';

const bin = fileURLToPath(new URL('../src/cli/bin.mjs', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let server: TestServer;
let workDir: string;
let cacheDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real process, the way a tester does. */
function cli(args: string[], options: { env?: Record<string, string | undefined>; stdin?: string; command?: string[]; cwd?: string } = {}): Promise<Run> {
  const [command, ...prefix] = options.command ?? [process.execPath, bin];
  const env: Record<string, string | undefined> = { ...process.env, WXKIT_CACHE_DIR: cacheDir, INIT_CWD: workDir, WXKIT_API_URL: undefined, ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...prefix, ...args], { cwd: options.cwd ?? workDir, env: env as NodeJS.ProcessEnv, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      // The CLI's output is scanned for WeChat secrets with every response body (test/support/no-leaks.ts).
      responseBodies.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

const json = (run: Run) => {
  expect(run.stderr.replace(/^building the API CLI.*\n/m, ''), 'nothing on stderr for a successful call').toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Record<string, any>;
};

const cachedFiles = (dir = cacheDir) => {
  const folder = join(dir, 'tokens');
  return existsSync(folder) ? readdirSync(folder).map((f) => join(folder, f)) : [];
};
const cachedToken = (user: string) => {
  for (const file of cachedFiles()) {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { user: string; server: string; token: string };
    if (entry.user === user && entry.server === server.url) return entry.token;
  }
  return undefined;
};

beforeAll(async () => {
  server = await startTestServer();
  workDir = mkdtempSync(join(tmpdir(), 'wxkit-cli-'));
  cacheDir = join(workDir, 'cache');
  // The first run builds server/dist/api.mjs; do it once here rather than inside a test.
  const help = await cli(['--help']);
  expect(help.code).toBe(0);
});
afterAll(async () => {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('--help', () => {
  it('lists every procedure of the router with its kind and input shape from the shared schemas', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    const procedures = Object.entries(appRouter._def.procedures as Record<string, { _def: { type: string } }>);
    for (const [name, procedure] of procedures) {
      expect(run.stdout).toMatch(new RegExp(`^  ${name} +${procedure._def.type} `, 'm'));
    }
    expect(run.stdout).toMatch(/^  login +mutation +public +\{ code: string \(1–128 chars\) \}$/m);
    expect(run.stdout).toMatch(/^  getProfile +query +protected +no input$/m);
    expect(run.stdout).toMatch(/updateProfile +mutation +protected +\{ nickname\?: string \(1–32 chars\), avatarUrl\?: string \(uri, ≤2048 chars\) \}/);
    for (const option of ['--input', '--as', '--token', '--url', '--raw']) expect(run.stdout).toContain(option);
  });

  it('is generated: a procedure added to a router appears with no CLI change', () => {
    const extended = mergeRouters(
      appRouter,
      router({
        ping: publicProcedure.input(z.object({ times: z.number().int().min(1) })).query(() => 'pong'),
        deleteAccount: protectedProcedure.mutation(() => ({ ok: true })),
      }),
    );
    const help = generalHelp(listProcedures(extended));
    expect(help).toMatch(/^  ping +query +public +\{ times: integer \}$/m);
    expect(help).toMatch(/^  deleteAccount +mutation +protected +no input$/m);
  });

  it('describes one procedure with its HTTP form, input and output', async () => {
    const run = await cli(['updateProfile', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('POST /trpc/updateProfile');
    expect(run.stdout).toMatch(
      /output: +\{ id: string, nickname: string \| null, avatarUrl: string \| null, createdAt: string \(date-time\), username: string \| null, wechatBound: boolean, phone: string \| null \}/,
    );
    const query = await cli(['getProfile', '--help']);
    expect(query.stdout).toContain('GET /trpc/getProfile');
  });

  it('works through `npm run api` at the repository root', async () => {
    const run = await cli(['run', '-s', 'api', '--', '--help'], { command: ['npm'], cwd: repoRoot, env: { INIT_CWD: undefined } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^  checkSession +query +public/m);
  }, 60_000);
});

describe('each procedure through the CLI', () => {
  it('login --as mints a code through the simulator, logs in and caches the token', async () => {
    const session = json(await cli(['login', '--as', 'alice', '--url', server.url]));
    expect(session).toMatchObject({ isNewUser: true, user: { nickname: null } });
    expect(typeof session.token).toBe('string');
    expect(cachedToken('alice')).toBe(session.token);
    const file = cachedFiles()[0]!;
    expect(statSync(file).mode & 0o077, 'the token file is private to its owner').toBe(0);
  });

  it('login --input sends the given code as is', async () => {
    const code = await mintCode(server.url, 'bob');
    const session = json(await cli(['login', '--input', JSON.stringify({ code }), '--url', server.url]));
    expect(session.isNewUser).toBe(true);
    const profile = await createClient(server.url, session.token as string).getProfile.query();
    expect(profile.id).toBe(session.user.id);
  });

  it('checkSession, getProfile, updateProfile (inline, @file and stdin input) and logout', async () => {
    const login = json(await cli(['login', '--as', 'carol', '--url', server.url]));
    const token = login.token as string;

    const session = json(await cli(['checkSession', '--token', token, '--url', server.url]));
    expect(session).toMatchObject({ valid: true, userId: login.user.id });
    expect(json(await cli(['checkSession', '--url', server.url]))).toEqual({ valid: false, reason: 'missing' });

    expect(json(await cli(['getProfile', '--as', 'carol', '--url', server.url])).id).toBe(login.user.id);

    const inline = json(await cli(['updateProfile', '--as', 'carol', '--input', '{"nickname":"Carol"}', '--url', server.url]));
    expect(inline.nickname).toBe('Carol');
    writeFileSync(join(workDir, 'avatar.json'), JSON.stringify({ avatarUrl: 'https://example.com/carol.png' }));
    const fromFile = json(await cli(['updateProfile', '--as', 'carol', '--input', '@avatar.json', '--url', server.url]));
    expect(fromFile).toMatchObject({ nickname: 'Carol', avatarUrl: 'https://example.com/carol.png' });
    const fromStdin = json(await cli(['updateProfile', '--token', token, '--input', '@-', '--url', server.url], { stdin: '{"nickname":"C."}' }));
    expect(fromStdin.nickname).toBe('C.');

    expect(json(await cli(['logout', '--as', 'carol', '--url', server.url]))).toEqual({ ok: true });
    expect(cachedToken('carol'), 'logout forgets the cached token').toBeUndefined();
    expect(json(await cli(['checkSession', '--token', token, '--url', server.url]))).toEqual({ valid: false, reason: 'revoked' });
  });

  it('--raw prints the HTTP exchange on stderr and keeps stdout pure JSON', async () => {
    const run = await cli(['getProfile', '--as', 'alice', '--raw', '--url', server.url]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty('id');
    expect(run.stderr).toContain(`> GET ${server.url}/trpc/getProfile`);
    expect(run.stderr).toMatch(/^> authorization: Bearer \S+$/m);
    expect(run.stderr).toContain('< HTTP 200 OK');
    expect(run.stderr).toContain('{"result":{"data":{');
  });
});

describe('errors', () => {
  it('prints the tRPC error with code, HTTP status, reason and message on stderr, exit 1', async () => {
    const run = await cli(['getProfile', '--url', server.url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('getProfile failed: UNAUTHORIZED (HTTP 401), reason: missing');
    expect(run.stderr).toContain('Not logged in');
    expect(run.stderr).toContain('--as <user>');
  });

  it('reports an input the server rejects', async () => {
    const run = await cli(['updateProfile', '--as', 'alice', '--input', '{"avatarUrl":"http://insecure.example"}', '--url', server.url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('BAD_REQUEST (HTTP 400), reason: invalid_input');
    expect(run.stderr).toContain('https');
  });

  it('reports login failures with their reason', async () => {
    const invalid = await cli(['login', '--input', '{"code":"not-a-real-code"}', '--url', server.url]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('BAD_REQUEST (HTTP 400), reason: code_invalid');

    await queueFaults(server.url, { count: 1, errcode: 40226 });
    const blocked = await cli(['login', '--as', 'mallory', '--url', server.url]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('FORBIDDEN (HTTP 403), reason: user_blocked');
    expect(cachedFiles().some((f) => readFileSync(f, 'utf8').includes('"mallory"'))).toBe(false);
  });

  it('says how to start the server when nothing listens at --url', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const run = await cli(['getProfile', '--as', 'alice', '--url', `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port} (connection refused)`);
    expect(run.stderr).toContain('npm start');
    expect(run.stderr).toContain('--url');
  });

  it('says when --url points at something that is not the tRPC server', async () => {
    const run = await cli(['checkSession', '--url', `${server.url}/healthz`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('did not answer like a wxkit tRPC server (HTTP 404');
    expect(run.stderr).toContain('check --url');
  });

  it('says --as needs the simulator when the server runs in real mode', async () => {
    const real = await startTestServer({ WECHAT_APPID: 'wx0000000000000000', WECHAT_SECRET: 'real-mode-secret', JWT_SECRET: 'y'.repeat(48) });
    try {
      const run = await cli(['getProfile', '--as', 'alice', '--url', real.url]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('real mode');
      expect(run.stderr).toContain('--token');
    } finally {
      await real.close();
    }
  });

  it('rejects usage mistakes with exit 2 and what to type instead', async () => {
    const unknown = await cli(['getprofile', '--url', server.url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean getProfile');
    const badJson = await cli(['updateProfile', '--input', '{nickname:', '--url', server.url]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('not valid JSON');
    const missingFile = await cli(['updateProfile', '--input', '@nope.json', '--url', server.url]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('cannot read nope.json: ENOENT');
    const both = await cli(['getProfile', '--as', 'a', '--token', 't', '--url', server.url]);
    expect(both.code).toBe(2);
    const unknownOption = await cli(['getProfile', '--nope']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain('--help');
    const none = await cli([]);
    expect(none.code).toBe(2);
  });
});

describe('--as token cache', () => {
  it('logs in once, then reuses the cached token: the second call makes no login request', async () => {
    const before = await simulatorExchanges(server.url);
    const first = json(await cli(['getProfile', '--as', 'dave', '--url', server.url]));
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    const second = json(await cli(['getProfile', '--as', 'dave', '--url', server.url]));
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    expect(second).toEqual(first);
  });

  it('keeps one token per user and server', async () => {
    const other = await startTestServer();
    try {
      json(await cli(['getProfile', '--as', 'dave', '--url', other.url]));
      expect(await simulatorExchanges(other.url), 'a token of another server is not reused').toBe(1);
      json(await cli(['getProfile', '--as', 'erin', '--url', server.url]));
      expect(cachedToken('erin')).not.toBe(cachedToken('dave'));
    } finally {
      await other.close();
    }
  });

  it('replaces a cached token that the server rejects (session revoked elsewhere)', async () => {
    const profile = json(await cli(['getProfile', '--as', 'frank', '--url', server.url]));
    const revoked = cachedToken('frank')!;
    await createClient(server.url, revoked).logout.mutate();

    const before = await simulatorExchanges(server.url);
    const run = await cli(['getProfile', '--as', 'frank', '--url', server.url]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(profile);
    expect(run.stderr).toContain('cached session of "frank" was rejected (revoked)');
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    const fresh = cachedToken('frank');
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(revoked);
    expect(await createClient(server.url, fresh).checkSession.query()).toMatchObject({ valid: true });
  });

  it('lives under $XDG_CACHE_HOME/wxkit when WXKIT_CACHE_DIR is not set', async () => {
    const xdg = join(workDir, 'xdg');
    json(await cli(['getProfile', '--as', 'gina', '--url', server.url], { env: { WXKIT_CACHE_DIR: undefined, XDG_CACHE_HOME: xdg } }));
    expect(cachedFiles(join(xdg, 'wxkit'))).toHaveLength(1);
  });
});

describe('accounts from the CLI alone', () => {
  it('sign up, log in with --password-as, bind a simulated WeChat user, then --as lands on the account', async () => {
    const password = 'correct horse: battery';
    const signedUp = json(await cli(['signUp', '--url', server.url, '--input', JSON.stringify({ username: 'Shop.Bob', password })]));
    expect(signedUp).toMatchObject({ isNewUser: true, user: { username: 'shop.bob', wechatBound: false } });

    const byPassword = json(await cli(['getProfile', '--password-as', `shop.bob:${password}`, '--url', server.url]));
    expect(byPassword.id).toBe(signedUp.user.id);
    expect(cachedFiles().some((f) => readFileSync(f, 'utf8').includes('"user": "password:shop.bob#'))).toBe(true);
    // The password itself is not in the cache.
    expect(cachedFiles().some((f) => readFileSync(f, 'utf8').includes(password))).toBe(false);

    json(await cli(['getProfile', '--as', 'cli-wx', '--url', server.url]));
    const oldToken = cachedToken('cli-wx');
    const bound = json(await cli(['bindAccount', '--as', 'cli-wx', '--url', server.url, '--input', JSON.stringify({ username: 'shop.bob', password })]));
    expect(bound.user).toMatchObject({ id: signedUp.user.id, wechatBound: true });
    // The answer's token replaced the revoked one in the cache: no extra login on the next call.
    expect(cachedToken('cli-wx')).toBe(bound.token);
    expect(cachedToken('cli-wx')).not.toBe(oldToken);
    const before = await simulatorExchanges(server.url);
    const after = json(await cli(['getProfile', '--as', 'cli-wx', '--url', server.url]));
    expect(after.id).toBe(signedUp.user.id);
    expect(await simulatorExchanges(server.url)).toBe(before);
  });

  it('a wrong password is reported with its reason and does not trigger a re-login', async () => {
    const run = await cli(['getProfile', '--password-as', 'shop.bob:not the password', '--url', server.url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('reason: credentials_invalid');
  });

  it('--password-as needs username:password and excludes --as', async () => {
    const bad = await cli(['getProfile', '--password-as', 'nocolon', '--url', server.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--password-as needs <username>:<password>');
    const both = await cli(['getProfile', '--password-as', 'a:b', '--as', 'x', '--url', server.url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not --as and --password-as');
  });
});

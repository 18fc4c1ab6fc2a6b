import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createTRPCUntypedClient, httpLink, TRPCClientError } from '@trpc/client';
import { listProcedures, type ProcedureInfo } from '../openapi/procedures.ts';
import { DEFAULT_URL, generalHelp, procedureHelp } from './help.ts';
import { cacheDir, createTokenCache, type TokenCache } from './token-cache.ts';

/**
 * `npm run api -- <procedure> [options]`: calls one procedure of a running server over HTTP with the real tRPC
 * client (one request per call, no batching, so `--raw` shows the plain wire form). The procedure list, each
 * procedure's kind (query or mutation) and its input shape come from the router, so a new procedure needs no change here.
 *
 * Written here rather than with trpc-cli: trpc-cli runs a router in-process; calling a remote server goes through its
 * experimental, undocumented `proxify`, it maps inputs to per-field flags or `--json` (not `--input <json|@file>`), and
 * it has no place for `--as` / `--token` / `--url` / `--raw` or for printing the tRPC error's `reason`.
 */

/** A mistake in the command line: exit 2 with what to type instead. */
class UsageError extends Error {}
/** A call that failed for a reason the CLI can explain (server down, not a wxkit server, no simulator). */
class CallError extends Error {}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Where relative `--input @file` paths start: the directory npm was run from. */
  cwd: string;
  readStdin: () => string;
}

interface Options {
  procedure: ProcedureInfo;
  input: unknown;
  as: string | undefined;
  /** `--password-as user:password`: log in with loginWithPassword instead of the simulator. */
  passwordAs: { username: string; password: string } | undefined;
  token: string | undefined;
  url: string;
  raw: boolean;
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const procedures = listProcedures();
    const parsed = parse(argv, procedures, io);
    if (parsed.kind === 'help') {
      io.stdout(parsed.text);
      return 0;
    }
    const result = await run(parsed.options, io);
    io.stdout(`${JSON.stringify(result ?? null, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`usage error: ${error.message}\nRun \`npm run api -- --help\` for the procedures and options.\n`);
      return 2;
    }
    io.stderr(describeFailure(error));
    return 1;
  }
}

function parse(argv: string[], procedures: ProcedureInfo[], io: Io): { kind: 'help'; text: string } | { kind: 'call'; options: Options } {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        input: { type: 'string' },
        as: { type: 'string' },
        'password-as': { type: 'string' },
        token: { type: 'string' },
        url: { type: 'string' },
        raw: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const name = positionals[0] === 'help' ? positionals[1] : positionals[0];
  if (positionals.length > (positionals[0] === 'help' ? 2 : 1)) {
    throw new UsageError(`one procedure per call, got: ${positionals.join(' ')}. Pass the input with --input '<json>'.`);
  }
  if (!name) {
    if (values.help || positionals[0] === 'help') return { kind: 'help', text: generalHelp(procedures) };
    throw new UsageError('name the procedure to call, e.g. `npm run api -- getProfile --as alice`.');
  }
  const procedure = procedures.find((p) => p.name === name);
  if (!procedure) {
    const near = procedures.filter((p) => p.name.toLowerCase().includes(name.toLowerCase()) || name.toLowerCase().includes(p.name.toLowerCase()));
    const suggestion = near.length ? `did you mean ${near.map((p) => p.name).join(' or ')}? ` : '';
    throw new UsageError(`no procedure named "${name}": ${suggestion}The procedures are: ${procedures.map((p) => p.name).join(', ')}.`);
  }
  if (values.help || positionals[0] === 'help') return { kind: 'help', text: procedureHelp(procedure) };
  if (procedure.type === 'subscription') throw new UsageError(`${name} is a subscription: the CLI calls queries and mutations only.`);
  const identities = [values.as !== undefined && '--as', values['password-as'] !== undefined && '--password-as', values.token !== undefined && '--token'].filter(Boolean);
  if (identities.length > 1) throw new UsageError(`pass one of --as <user>, --password-as <username>:<password> or --token <token>, not ${identities.join(' and ')}.`);
  const passwordAs = values['password-as'] === undefined ? undefined : parsePasswordAs(values['password-as']);
  if (values.as !== undefined && values.as.trim() === '') throw new UsageError('--as needs a user name, e.g. --as alice.');
  if (name === 'login' && values.as !== undefined && values.input !== undefined) {
    throw new UsageError('login takes either --as <user> (the CLI mints the code) or --input \'{"code":"…"}\', not both.');
  }
  const base = values.url ?? io.env.WXKIT_API_URL ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`--url "${base}" is not a URL: pass the server's base, e.g. --url ${DEFAULT_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, got "${base}".`);
  return {
    kind: 'call',
    options: {
      procedure,
      input: values.input === undefined ? undefined : readInput(values.input, io),
      as: values.as,
      passwordAs,
      token: values.token,
      url: url.href.replace(/\/+$/, ''),
      raw: values.raw,
    },
  };
}

/** A short digest tying a cached session to the password that opened it; the password itself is never written. */
function passwordCheck(server: string, credentials: { username: string; password: string }): string {
  return createHash('sha256').update(`wxkit-cli\0${server}\0${credentials.username}\0${credentials.password}`).digest('hex').slice(0, 16);
}

function parsePasswordAs(value: string): { username: string; password: string } {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new UsageError('--password-as needs <username>:<password>, e.g. --password-as shop.bob:\'correct horse\' (the password may contain ":").');
  }
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function readInput(value: string, io: Io): unknown {
  let text = value;
  let source = '--input';
  if (value.startsWith('@')) {
    const file = value.slice(1);
    if (!file) throw new UsageError('--input @ needs a file name: --input @input.json, or --input @- for stdin.');
    source = file === '-' ? 'stdin' : file;
    try {
      text = file === '-' ? io.readStdin() : readFileSync(resolve(io.cwd, file), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Check the path (relative to ${io.cwd}).`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON (${(error as Error).message}). Quote it for the shell, e.g. --input '{"nickname":"Alice"}'.`);
  }
}

/** fetch that remembers the last exchange (to explain odd answers) and, with --raw, prints it. */
function createFetch(raw: boolean, io: Io) {
  const state = { lastStatus: 0, lastBody: '' };
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? 'GET';
    if (raw) {
      const headers = Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => `> ${k}: ${v}\n`);
      const body = typeof init?.body === 'string' ? `> \n> ${init.body}\n` : '';
      io.stderr(`> ${method} ${url}\n${headers.join('')}${body}`);
    }
    const response = await fetch(input, init);
    const text = await response.text();
    state.lastStatus = response.status;
    state.lastBody = text;
    if (raw) {
      const headers = [...response.headers].map(([k, v]) => `< ${k}: ${v}\n`);
      io.stderr(`< HTTP ${response.status} ${response.statusText}\n${headers.join('')}< \n< ${text}\n\n`);
    }
    return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: fetchFn, state };
}

async function run(options: Options, io: Io): Promise<unknown> {
  const { fetch: tracedFetch, state } = createFetch(options.raw, io);
  const cache = createTokenCache(cacheDir(io.env));
  let token = options.token;
  const client = createTRPCUntypedClient({
    links: [
      httpLink({
        url: `${options.url}/trpc`,
        fetch: tracedFetch,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
  const call = (name: string, type: ProcedureInfo['type'], input: unknown) =>
    guard(options.url, state, () => (type === 'query' ? client.query(name, input) : client.mutation(name, input)));

  /** What a login-shaped answer (login, loginWithPassword, signUp, bindAccount) carries. */
  type Session = { token: string; expiresAt: string; user: { id: string } };
  const isSession = (value: unknown): value is Session =>
    typeof (value as Session | undefined)?.token === 'string' && typeof (value as Session).expiresAt === 'string' && typeof (value as Session).user?.id === 'string';
  const remember = (user: string, session: Session) =>
    cache.write({ server: options.url, user, token: session.token, expiresAt: session.expiresAt, userId: session.user.id });

  const { procedure, passwordAs } = options;
  // Cached per identity: a simulated WeChat user (`--as alice`) or a username and password (`--password-as bob:…` →
  // "password:bob#<check>"): a cached session is reused only with the password that opened it.
  const user = passwordAs ? `password:${passwordAs.username}#${passwordCheck(options.url, passwordAs)}` : options.as;
  /** A fresh session: a simulator code exchanged by login, or the username and password; then cached. */
  const logIn = async (): Promise<Session> => {
    const session = passwordAs
      ? ((await call('loginWithPassword', 'mutation', passwordAs)) as Session)
      : ((await call('login', 'mutation', { code: await devLogin(options.url, user as string, tracedFetch, state) })) as Session);
    remember(user as string, session);
    return session;
  };

  if (user === undefined) return call(procedure.name, procedure.type, options.input);
  if (procedure.name === 'login' || (passwordAs && procedure.name === 'loginWithPassword')) return logIn();

  const cached = cache.read(options.url, user);
  const fromCache = cached !== undefined && Date.parse(cached.expiresAt) > Date.now() + 5_000;
  token = fromCache ? cached.token : (await logIn()).token;
  let result: unknown;
  try {
    result = await call(procedure.name, procedure.type, options.input);
  } catch (error) {
    if (!(fromCache && isUnauthorized(error) && isSessionReason(reasonOf(error)))) throw error;
    // The cached session was revoked, expired early or signed with another key: forget it and log in again, once.
    cache.remove(options.url, user);
    io.stderr(`note: the cached session of "${user}" was rejected (${reasonOf(error) ?? 'unauthorized'}); logged in again.\n`);
    token = (await logIn()).token;
    result = await call(procedure.name, procedure.type, options.input);
  }
  if (procedure.name === 'logout') cache.remove(options.url, user);
  // bindAccount answers a new session for this identity (its old one is revoked): keep using that one.
  else if (isSession(result)) remember(user, result);
  return result;
}

async function devLogin(base: string, user: string, fetchFn: ReturnType<typeof createFetch>['fetch'], state: { lastStatus: number; lastBody: string }): Promise<string> {
  const url = `${base}/__wechat/dev/login`;
  const response = await guard(base, state, () =>
    fetchFn(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) }),
  );
  const text = await response.text();
  if (response.status === 404) {
    throw new CallError(`--as needs the WeChat simulator, but ${url} answered 404: the server runs in real mode (WECHAT_APPID set). Log in from the mini-program and pass --token <token> instead.`);
  }
  let body: { code?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // handled below
  }
  if (!response.ok || typeof body.code !== 'string') {
    const detail = typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
    throw new CallError(`the simulator refused to log "${user}" in (${detail}): use a user name of letters, digits, _ . @ - (at most 64).`);
  }
  return body.code;
}

/** Turns "nothing answered" and "something else answered" into a CallError that says what to do. */
async function guard<T>(base: string, state: { lastStatus: number; lastBody: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = networkCode(error);
    if (code) {
      const why = code === 'ECONNREFUSED' ? 'connection refused' : code;
      throw new CallError(`cannot reach the server at ${base} (${why}): start it with \`npm start\`, or pass --url <base> of a running server.`);
    }
    if (error instanceof TRPCClientError && !dataOf(error)?.code) {
      const body = state.lastBody.replace(/\s+/g, ' ').slice(0, 120);
      throw new CallError(`the server at ${base} did not answer like a wxkit tRPC server (HTTP ${state.lastStatus}: ${body || error.message}): check --url, and that \`npm start\` is running there.`);
    }
    throw error;
  }
}

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}

interface ErrorData {
  code?: string;
  httpStatus?: number;
  path?: string;
  reason?: string;
}

const dataOf = (error: unknown): ErrorData | undefined =>
  error instanceof TRPCClientError ? ((error.data ?? undefined) as ErrorData | undefined) : undefined;
const isUnauthorized = (error: unknown) => dataOf(error)?.code === 'UNAUTHORIZED';
/** UNAUTHORIZED about the session itself (not, say, a wrong password in the input): worth one fresh login. */
const isSessionReason = (reason: string | undefined) => reason === undefined || ['missing', 'invalid', 'expired', 'revoked', 'session_key_stale'].includes(reason);
const reasonOf = (error: unknown) => dataOf(error)?.reason;

function describeFailure(error: unknown): string {
  if (error instanceof CallError) return `error: ${error.message}\n`;
  const data = dataOf(error);
  if (error instanceof TRPCClientError && data?.code) {
    const lines = [
      `error: ${data.path ?? 'the call'} failed: ${data.code} (HTTP ${data.httpStatus ?? '?'}), reason: ${data.reason ?? 'none'}`,
      error.message,
    ];
    if (data.code === 'UNAUTHORIZED') lines.push('hint: pass --as <user> to log in as a simulated user, or --token <token> from login.');
    if (data.code === 'NOT_FOUND') lines.push('hint: the server does not know this procedure: it may be older than this checkout; restart it with `npm start`.');
    return `${lines.join('\n')}\n`;
  }
  return `error: ${(error as Error)?.stack ?? String(error)}\nThis is a bug in the CLI: please report it with the command you ran.\n`;
}

/**
 * A real, throwaway PostgreSQL cluster for tests: Debian's server binaries, `initdb` into a fresh temp
 * folder, `postgres` on 127.0.0.1 with a free port. Never a mock.
 *
 * - Binaries: `PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`;
 *   none → an Error saying to run `apt-get install -y postgresql` (no silent skip).
 * - Root: initdb and postgres refuse to run as root, so as root both run as an unprivileged OS user through
 *   `setpriv` (which execs, so the child pid is the postmaster's own): `PG_OS_USER` / `options.osUser`, else
 *   `postgres` (created by Debian's package), else `nobody`. No user is created. Not root → runs as yourself.
 * - Auth: the superuser is `postgres` with a random password (scram-sha-256 over TCP), so tests can check
 *   that the server never prints it; unix-socket connections (socket in the temp folder, 0700) are trusted.
 * - Settings trade durability against a machine crash for speed (fsync, full_page_writes off) but keep
 *   `synchronous_commit=on`: with it off, an immediate stop loses the last ~0.5 s of commits, and
 *   "database down and back" tests would flake. Override any setting through `options.settings`.
 * - Ports: a random free port BELOW the kernel's ephemeral range, so a restart on the same port cannot find
 *   it taken by some outgoing connection's local port meanwhile; a clash at bind time retries another port.
 * - Cleanup: exit/SIGINT/SIGTERM/SIGHUP handlers stop every live cluster synchronously and remove its folder.
 *   If the owning process is SIGKILLed, a detached watchdog (a `sh` reading a pipe from this process: EOF means
 *   we died, however) sends the postmaster SIGQUIT and removes the folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

export interface PgClusterOptions {
  /** Folder holding initdb and postgres; default: see {@link findPgBinDir}. */
  binDir?: string;
  /** Parent of the cluster's temp folder; default `os.tmpdir()`. Must be reachable by the unprivileged user. */
  baseDir?: string;
  /** When running as root: the OS user that owns and runs the cluster; default `PG_OS_USER`, `postgres`, `nobody`. */
  osUser?: string;
  /** A fixed port instead of a random free one (no retry on a clash). */
  port?: number;
  /** Extra or overriding `postgres -c` settings. */
  settings?: Record<string, string | number | boolean>;
  /** How long a start may take until the first connection succeeds; default 30 s. */
  startTimeoutMs?: number;
}

export type StopMode = 'fast' | 'immediate';

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  /** The superuser's name (`postgres`) and its generated password. */
  readonly user: string;
  readonly password: string;
  /** postgres://postgres:…@127.0.0.1:port/postgres */
  readonly adminUrl: string;
  /** The temp folder (data dir, socket dir, server log inside). */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The postmaster's pid while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The URL of `database` on this cluster. */
  urlFor(database: string): string;
  /** Creates a fresh empty database (a unique name when omitted) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Drops the database, disconnecting its clients first. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server; the cluster stays on disk. `fast` (default) rolls back and disconnects; `immediate` is a crash. */
  stop(options?: { mode?: StopMode }): Promise<void>;
  /** Starts the same cluster again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes the temp folder. Idempotent. */
  destroy(): Promise<void>;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
}

const INSTALL_HINT =
  'install them with `apt-get install -y postgresql` (Debian/Ubuntu; prefix sudo when not root), ' +
  'or set PG_BIN to a folder holding initdb and postgres. .ci/run installs the package when it is missing.';

/** The folder holding initdb and postgres: `PG_BIN`, the newest `/usr/lib/postgresql/<v>/bin`, or `pg_config --bindir`. */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const hasServer = (dir: string) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres'));
  if (env.PG_BIN) {
    if (hasServer(env.PG_BIN)) return env.PG_BIN;
    throw new Error(`PG_BIN=${env.PG_BIN} holds no initdb and postgres: point it at a PostgreSQL bin folder (e.g. /usr/lib/postgresql/15/bin) or unset it.`);
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = path.join(root, version, 'bin');
    if (hasServer(dir)) return dir;
  }
  const fromPgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const bindir = fromPgConfig.status === 0 ? fromPgConfig.stdout.trim() : '';
  if (bindir && hasServer(bindir)) return bindir;
  throw new Error(`PostgreSQL server binaries (initdb, postgres) not found: ${INSTALL_HINT}`);
}

let nameCounter = 0;
/** A database name unique across processes and runs: `<prefix>_<pid>_<counter>_<random>`. */
export function uniqueDatabaseName(prefix = 'wxkit_t'): string {
  nameCounter += 1;
  return `${prefix}_${process.pid}_${nameCounter}_${randomBytes(3).toString('hex')}`.toLowerCase();
}

function checkDatabaseName(name: string): string {
  // Names are interpolated into CREATE/DROP DATABASE, which take no bind parameters.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`Invalid database name ${JSON.stringify(name)}: use 1–63 of [a-z0-9_], not starting with a digit.`);
  }
  return name;
}

/** `url` with its database swapped for `database`. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Where a URL points, without its password, for error messages. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.username || '(default user)'}@${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
}

async function withAdminClient<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`Cannot connect to PostgreSQL at ${describeUrl(adminUrl)} (${(error as Error).message}): ` +
      'check that the server is running and the URL is right (a stopped PgCluster needs start())', { cause: error });
  }
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates a fresh empty database on the server `adminUrl` points at and returns its URL. */
export async function createDatabaseAt(adminUrl: string, name: string = uniqueDatabaseName()): Promise<string> {
  checkDatabaseName(name);
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  return databaseUrl(adminUrl, name);
}

/** Drops `name` on the server `adminUrl` points at (FORCE: its connections are terminated first). */
export async function dropDatabaseAt(adminUrl: string, name: string): Promise<void> {
  checkDatabaseName(name);
  await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

function lookupUser(name: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function chooseRunAs(osUser: string | undefined): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const wanted = osUser ?? process.env.PG_OS_USER;
  const candidates = wanted ? [wanted] : ['postgres', 'nobody'];
  for (const name of candidates) {
    const found = lookupUser(name);
    if (found && found.uid !== 0) return found;
  }
  throw new Error(
    `Running as root, and initdb/postgres refuse root, but no unprivileged user among ${candidates.join(', ')} exists: ` +
      'install Debian\'s postgresql (it creates the user postgres) or set PG_OS_USER to an existing non-root user.',
  );
}

/** [file, args] that run `binary` as the unprivileged user (setpriv execs: the pid is the binary's own). */
function command(runAs: RunAs | undefined, binary: string, args: string[]): [string, string[]] {
  if (!runAs) return [binary, args];
  return ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--init-groups', '--', binary, ...args]];
}

/** The environment for initdb/postgres: no PG* variables of ours leaking into them, messages in English. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  env.LC_ALL = 'C';
  return env;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free port below the ephemeral range (so no outgoing connection takes it while the cluster is down). */
async function pickPort(): Promise<number> {
  let low = 15_000;
  let high = 32_767;
  try {
    const [start] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (start && start - 1 - low >= 1000) high = start - 1;
    else if (start) low = 0; // a custom, low ephemeral range: let the kernel pick below
  } catch {
    // not Linux: keep the defaults
  }
  for (let attempt = 0; low > 0 && attempt < 50; attempt += 1) {
    const port = randomInt(low, high + 1);
    if (await portIsFree(port)) return port;
  }
  // Fallback: port 0, released; a clash when postgres binds it is retried by the caller.
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command without blocking the event loop (initdb takes ~1 s); its exit code (null: killed) and output. */
function runAsync(file: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => resolve({ code: null, output: `${output}${error.message}` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Alive and not a zombie (a dead child we have not reaped yet still answers kill(pid, 0)). */
function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function tailOf(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// A sh that blocks on its stdin (a pipe from this process). EOF means the owner is gone; if the folder is still
// there, the owner died without cleaning up: SIGQUIT the postmaster named in postmaster.pid (checking that the
// pid really is a process of this data dir, not a recycled pid), wait for it, remove the folder.
const WATCHDOG_SCRIPT = `
cat >/dev/null
[ -d "$1" ] || exit 0
pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while [ -e "/proc/$pid" ] && ! grep -q ') Z ' "/proc/$pid/stat" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$1"
`;

const live = new Set<Cluster>();
let handlersInstalled = false;

function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.destroySync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const cluster of live) cluster.destroySync();
      // A listener replaces the default "die on signal": re-raise it unless someone else handles the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

class Cluster implements PgCluster {
  readonly host = '127.0.0.1';
  readonly user = 'postgres';
  readonly dataDir: string;
  readonly logFile: string;
  readonly #socketDir: string;
  #port: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #watchdog: ChildProcess | undefined;
  #destroyed = false;

  constructor(
    readonly dir: string,
    readonly password: string,
    private readonly binDir: string,
    private readonly runAs: RunAs | undefined,
    private readonly settings: Record<string, string | number | boolean>,
    private readonly startTimeoutMs: number,
  ) {
    this.dataDir = path.join(dir, 'data');
    this.logFile = path.join(dir, 'postgres.log');
    this.#socketDir = path.join(dir, 'socket');
    this.#port = 0;
  }

  get port() {
    return this.#port;
  }
  get pid() {
    return this.running ? this.#child?.pid : undefined;
  }
  get running() {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }
  get adminUrl() {
    return this.urlFor('postgres');
  }

  urlFor(database: string) {
    return `postgres://${this.user}:${encodeURIComponent(this.password)}@${this.host}:${this.#port}/${database}`;
  }

  createDatabase(name?: string) {
    return createDatabaseAt(this.adminUrl, name);
  }

  dropDatabase(name: string) {
    return dropDatabaseAt(this.adminUrl, name);
  }

  logTail(lines = 30) {
    try {
      return tailOf(fs.readFileSync(this.logFile, 'utf8'), lines);
    } catch {
      return '(no server log)';
    }
  }

  async initdb() {
    const pwFile = path.join(this.dir, 'pw');
    fs.writeFileSync(pwFile, `${this.password}\n`, { mode: 0o600 });
    if (this.runAs) fs.chownSync(pwFile, this.runAs.uid, this.runAs.gid);
    const args = ['-D', this.dataDir, '-U', this.user, '-E', 'UTF8', '--no-locale', '--no-sync',
      '--auth-host=scram-sha-256', '--auth-local=trust', `--pwfile=${pwFile}`];
    const [file, fileArgs] = command(this.runAs, path.join(this.binDir, 'initdb'), args);
    const result = await runAsync(file, fileArgs, 120_000);
    fs.rmSync(pwFile, { force: true });
    if (result.code !== 0) {
      const output = tailOf(result.output, 20);
      throw new Error(`initdb failed (as ${this.runAs?.name ?? 'the current user'}, in ${this.dataDir}):\n${output}\n` +
        'Check that this user can write the temp folder (or set options.baseDir / TMPDIR), and that the binaries in ' +
        `${this.binDir} work.`);
    }
  }

  /** First start: a random free port, retried on a bind clash (unless the port is fixed). */
  async startOnFreePort(fixedPort: number | undefined) {
    for (let attempt = 1; ; attempt += 1) {
      this.#port = fixedPort ?? (await pickPort());
      const outcome = await this.launch();
      if (outcome === 'ready') return;
      if (fixedPort !== undefined || attempt >= 5) {
        throw new Error(`PostgreSQL could not bind 127.0.0.1:${this.#port} (in use)${fixedPort === undefined ? ` after ${attempt} ports` : ''}: ` +
          `free the port or pick another.\nServer log:\n${this.logTail(15)}`);
      }
    }
  }

  async start() {
    if (this.#destroyed) throw new Error('This PostgreSQL cluster was destroyed: start a new one with startPgCluster().');
    if (this.running) return;
    if ((await this.launch()) === 'port-in-use') {
      throw new Error(`PostgreSQL could not restart: 127.0.0.1:${this.#port} is now taken by another process. ` +
        `Find it with \`ss -ltnp 'sport = :${this.#port}'\`.\nServer log:\n${this.logTail(15)}`);
    }
  }

  /** Spawns postgres and waits until it accepts a TCP connection with the password. */
  private async launch(): Promise<'ready' | 'port-in-use'> {
    const settings: Record<string, string | number | boolean> = {
      listen_addresses: this.host,
      port: this.#port,
      unix_socket_directories: this.#socketDir,
      fsync: 'off',
      full_page_writes: 'off',
      synchronous_commit: 'on',
      max_connections: 200, // several server processes, each with a pool
      shared_buffers: '32MB',
      jit: 'off', // compiling tiny test queries costs more than it saves
      wal_level: 'minimal',
      max_wal_senders: 0,
      max_wal_size: '1GB', // fewer checkpoints in a short run
      ...this.settings,
    };
    const args = ['-D', this.dataDir];
    for (const [key, value] of Object.entries(settings)) args.push('-c', `${key}=${String(value)}`);
    const logStart = fs.existsSync(this.logFile) ? fs.statSync(this.logFile).size : 0;
    const logSinceLaunch = () => {
      try {
        return fs.readFileSync(this.logFile, 'utf8').slice(logStart);
      } catch {
        return '';
      }
    };
    const [file, fileArgs] = command(this.runAs, path.join(this.binDir, 'postgres'), args);
    const logFd = fs.openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(file, fileArgs, { stdio: ['ignore', logFd, logFd], env: childEnv() });
    } finally {
      fs.closeSync(logFd);
    }
    child.unref(); // a forgotten cluster must not keep the process alive: the exit handler stops it
    let spawnError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        spawnError = error;
        resolve();
      });
    });
    this.#child = child;
    this.#exited = exited;

    const deadline = Date.now() + this.startTimeoutMs;
    let lastError: unknown;
    for (;;) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        const log = logSinceLaunch();
        if (/could not bind|Address already in use/i.test(log)) return 'port-in-use';
        throw new Error(`PostgreSQL exited during start (${spawnError ? spawnError.message : `code ${child.exitCode}, signal ${child.signalCode}`}).\n` +
          `Server log (${this.logFile}):\n${tailOf(log, 20)}`);
      }
      if (Date.now() > deadline) {
        await this.stop({ mode: 'immediate' });
        throw new Error(`PostgreSQL did not accept connections on 127.0.0.1:${this.#port} within ${this.startTimeoutMs} ms ` +
          `(last error: ${(lastError as Error | undefined)?.message ?? 'none'}); the machine may be overloaded: raise startTimeoutMs.\n` +
          `Server log:\n${tailOf(logSinceLaunch(), 20)}`);
      }
      const client = new pg.Client({ host: this.host, port: this.#port, user: this.user, password: this.password, database: 'postgres', connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.end();
        return 'ready';
      } catch (error) {
        lastError = error;
        await client.end().catch(() => undefined);
        const code = (error as { code?: string }).code;
        // Not listening yet, or listening but still recovering / starting up: retry.
        if (code !== 'ECONNREFUSED' && code !== '57P03' && code !== 'ECONNRESET') {
          // Something else may own the port (our postgres then exits on its bind error): that case is handled above.
          await Promise.race([sleep(200), exited]);
          if (!this.running) continue;
          await this.stop({ mode: 'immediate' });
          throw new Error(`PostgreSQL on 127.0.0.1:${this.#port} refused the first connection: ${(error as Error).message}.\nServer log:\n${tailOf(logSinceLaunch(), 20)}`);
        }
      }
      await Promise.race([sleep(50), exited]);
    }
  }

  async stop({ mode = 'fast' }: { mode?: StopMode } = {}) {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = this.#exited ?? Promise.resolve();
    // fast: SIGINT (roll back, disconnect, checkpoint); immediate: SIGQUIT (like a crash; recovery on next start).
    child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    const steps: NodeJS.Signals[] = ['SIGQUIT', 'SIGKILL'];
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      // The timer is ref'd: it keeps the event loop alive while we wait for the (unref'd) child.
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), 10_000); }),
      ]);
      clearTimeout(timer);
      if (!timedOut) return;
      const next = steps.shift();
      if (!next) throw new Error(`PostgreSQL (pid ${child.pid}) did not exit after SIGKILL: check \`ps -p ${child.pid}\`.`);
      child.kill(next);
    }
  }

  async destroy() {
    if (this.#destroyed) return;
    await this.stop({ mode: 'immediate' });
    this.removeFolder();
  }

  /** For exit/signal handlers: no awaiting possible, so SIGQUIT and poll /proc. */
  destroySync() {
    if (this.#destroyed) return;
    const pid = this.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
      for (let waited = 0; processAlive(pid) && waited < 5000; waited += 20) sleepSync(20);
    }
    this.removeFolder();
  }

  private removeFolder() {
    this.#destroyed = true;
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.#watchdog?.stdin?.end(); // EOF: the watchdog finds the folder gone and exits
    this.#watchdog = undefined;
  }

  startWatchdog() {
    const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'wxkit-pg-watchdog', this.dir, this.dataDir], {
      detached: true, // its own session: a Ctrl-C to our process group must not kill it before it cleans up
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => undefined);
    watchdog.stdin?.on('error', () => undefined);
    watchdog.unref();
    (watchdog.stdin as unknown as net.Socket | null)?.unref();
    this.#watchdog = watchdog;
  }

  adoptLive() {
    live.add(this);
    installExitHandlers();
  }
}

/** initdb into a fresh temp folder and start postgres on 127.0.0.1 with a free port; see the file comment. */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const binDir = options.binDir ?? findPgBinDir();
  const runAs = chooseRunAs(options.osUser);
  if (runAs && spawnSync('setpriv', ['--version']).status !== 0) {
    throw new Error('Running as root needs `setpriv` to run initdb/postgres as an unprivileged user: apt-get install -y util-linux.');
  }
  const dir = fs.mkdtempSync(path.join(options.baseDir ?? os.tmpdir(), 'wxkit-pg-'));
  const cluster = new Cluster(dir, randomBytes(18).toString('base64url'), binDir, runAs, options.settings ?? {}, options.startTimeoutMs ?? 30_000);
  cluster.adoptLive(); // from here on, exit handlers remove the folder whatever happens
  try {
    fs.mkdirSync(path.join(dir, 'socket'), { mode: 0o700 });
    if (runAs) {
      fs.chownSync(dir, runAs.uid, runAs.gid);
      fs.chownSync(path.join(dir, 'socket'), runAs.uid, runAs.gid);
      const reach = spawnSync(...command(runAs, 'test', ['-w', dir]));
      if (reach.status !== 0) {
        throw new Error(`User ${runAs.name} cannot reach ${dir} (a parent folder is not searchable by it): ` +
          'set options.baseDir or TMPDIR to a folder it can reach, e.g. /tmp.');
      }
    }
    cluster.startWatchdog();
    await cluster.initdb();
    await cluster.startOnFreePort(options.port);
    return cluster;
  } catch (error) {
    await cluster.destroy().catch(() => cluster.destroySync());
    throw error;
  }
}

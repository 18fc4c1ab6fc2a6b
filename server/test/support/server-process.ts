import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const serverDir = fileURLToPath(new URL('../..', import.meta.url));

/** Every server process a test started and has not seen exit: killed when the test process exits, whatever failed. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout + stderr). */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * The real entry point (`src/server.ts`, as `npm start` runs it) in a child process, on 127.0.0.1 port 0 unless
 * `PORT` says otherwise. Resolves once it printed its address.
 */
export async function startServerProcess(env: Record<string, string>, options: { readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: serverDir,
    // Outputs checked against their schemas, as in every test server.
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'warn', WXKIT_VALIDATE_OUTPUTS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server process did not start within ${options.readyTimeoutMs ?? 30_000} ms:\n${output}`)), options.readyTimeoutMs ?? 30_000);
    const check = () => {
      const match = /wxkit server ready: (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        // Stop matching: re-scanning a growing output on every chunk is quadratic for a server that logs a lot.
        child.stdout?.off('data', check);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server process exited before it was ready:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

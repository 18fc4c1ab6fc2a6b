// Server processes for the bench: started from the repository root, ready when they print `ready: <url>`, and
// stopped with SIGTERM (SIGKILL 15 s later).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every process started here and not stopped yet. */
const running = new Set();

/**
 * `node [nodeArgs] args` with `env` over `baseEnv` (default: this process's environment); resolves with
 * `{ name, child, pid, url }` once it prints `ready: <url>`, rejects if it exits first or is not ready within 60 s.
 */
export function startServer(name, args, env, { nodeArgs = [], baseEnv = process.env } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: root, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /ready: (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        const server = { name, child, pid: child.pid, url: match[1].replace(/\/$/, '') };
        running.add(server);
        resolve(server);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
      if (output.length > 20_000) output = output.slice(-20_000);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${output}`));
    });
  });
}

export function stopServer(server) {
  if (!server) return Promise.resolve();
  running.delete(server);
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit');
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
    setTimeout(() => server.child.kill('SIGKILL'), 15_000).unref();
  });
}

/** Stops every server started here and not stopped yet (on Ctrl-C, so none outlives the run). */
export function stopAllServers() {
  return Promise.all([...running].map(stopServer));
}

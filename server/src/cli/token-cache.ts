import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Tokens that `--as <user>` obtained, one file per (server, user) so parallel CLI runs never clobber each other.
 * Folder: `$WXKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/wxkit`, else `~/.cache/wxkit`; files are readable by their owner only.
 */
export interface CachedSession {
  server: string;
  user: string;
  token: string;
  expiresAt: string;
  userId: string;
}

export function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env.WXKIT_CACHE_DIR) return env.WXKIT_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wxkit');
}

export function createTokenCache(dir: string) {
  const folder = join(dir, 'tokens');
  const fileFor = (server: string, user: string) =>
    join(folder, `${createHash('sha256').update(`${server}\0${user}`).digest('hex').slice(0, 32)}.json`);

  return {
    folder,
    read(server: string, user: string): CachedSession | undefined {
      try {
        const session = JSON.parse(readFileSync(fileFor(server, user), 'utf8')) as CachedSession;
        return session.server === server && session.user === user && typeof session.token === 'string' ? session : undefined;
      } catch {
        return undefined; // missing or unreadable: log in again
      }
    },
    write(session: CachedSession): void {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      const file = fileFor(session.server, session.user);
      // Write then rename: a concurrent reader sees the old file or the new one, never half of one.
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
      renameSync(temp, file);
    },
    remove(server: string, user: string): void {
      rmSync(fileFor(server, user), { force: true });
    },
  };
}

export type TokenCache = ReturnType<typeof createTokenCache>;

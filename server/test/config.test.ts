import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';

const serverDir = fileURLToPath(new URL('..', import.meta.url));
const LONG_SECRET = 'a-long-enough-jwt-secret-0123456789-abcdef';
const APP_SECRET = 'real-app-secret-value-987654321';

/** Starts the real entry point with only the given environment (plus PATH) and returns how it ended. */
function startServer(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', DATABASE_PATH: ':memory:', PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('PostgreSQL configuration', () => {
  it('a DATABASE_URL that is not a postgres:// URL is a config error that does not echo it', () => {
    const run = startServer({ DATABASE_URL: 'mysql://root:hunter2@db/app', DATABASE_POOL_SIZE: '0' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^ {2}DATABASE_URL: must be a PostgreSQL URL/m);
    expect(run.stderr).toMatch(/^ {2}DATABASE_POOL_SIZE: must be at least 1/m);
    expect(run.stderr + run.stdout).not.toContain('hunter2');
  });

  it('an unreachable PostgreSQL stops the start with exit 1, naming host, port and database, never the password', () => {
    const run = startServer({ DATABASE_URL: 'postgres://wxkit:pw-never-printed@127.0.0.1:1/appdb' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/appdb (ECONNREFUSED)');
    expect(run.stderr).toContain('check DATABASE_URL');
    expect(run.stderr + run.stdout).not.toContain('pw-never-printed');
  });
});

describe('bad configuration stops the process with exit 1 and one line per bad variable', () => {
  it('real mode without JWT_SECRET', () => {
    const run = startServer({ WECHAT_APPID: 'wx1234567890', WECHAT_SECRET: APP_SECRET });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^ {2}JWT_SECRET: is required in real mode/m);
    expect(run.stderr + run.stdout).not.toContain(APP_SECRET);
  });

  it('a JWT_SECRET shorter than 32 bytes, without printing it', () => {
    const run = startServer({ JWT_SECRET: 'short-secret-xyz' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/JWT_SECRET: is too short \(16 bytes\)/);
    expect(run.stderr + run.stdout).not.toContain('short-secret-xyz');
  });

  it('WECHAT_APPID without WECHAT_SECRET, and several bad variables at once', () => {
    const run = startServer({ WECHAT_APPID: 'wx1234567890', JWT_SECRET: LONG_SECRET, PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(run.status).toBe(1);
    const lines = run.stderr.split('\n').filter((line) => /^ {2}[A-Z_]+: /.test(line));
    expect(lines.map((line) => line.trim().split(':')[0]).sort()).toEqual(['LOG_LEVEL', 'PORT', 'WECHAT_SECRET']);
    expect(run.stderr).toMatch(/Fix these environment variables/);
  });

  it('WECHAT_SECRET without WECHAT_APPID', () => {
    const run = startServer({ WECHAT_SECRET: APP_SECRET, JWT_SECRET: LONG_SECRET });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/WECHAT_APPID: is required when WECHAT_SECRET is set/);
    expect(run.stderr).not.toContain(APP_SECRET);
  });
});

describe('parseConfig', () => {
  it('defaults to simulator mode on 127.0.0.1:3000 with a 7-day session', () => {
    expect(parseConfig({})).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databasePath: './data/app.db',
      wechat: { kind: 'simulator', apiBase: undefined },
      sessionTtlSeconds: 604800,
      logLevel: 'info',
      jwtSecret: undefined,
    });
  });

  it('enters real mode when both WeChat variables are set', () => {
    const config = parseConfig({ WECHAT_APPID: 'wx1', WECHAT_SECRET: APP_SECRET, JWT_SECRET: LONG_SECRET });
    expect(config.wechat).toEqual({ kind: 'real', appId: 'wx1', secret: APP_SECRET, apiBase: 'https://api.weixin.qq.com' });
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ WECHAT_APPID: '', WECHAT_SECRET: ' ', PORT: '' }).wechat.kind).toBe('simulator');
  });

  it('throws a ConfigError whose problems never contain a value', () => {
    try {
      parseConfig({ WECHAT_APPID: 'wx1', WECHAT_SECRET: APP_SECRET, JWT_SECRET: 'tiny' });
      expect.unreachable('parseConfig accepted a 4-byte JWT_SECRET');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('CONFIG_INVALID');
      expect((error as ConfigError).problems.join('\n')).not.toMatch(/tiny|real-app-secret/);
    }
  });
});

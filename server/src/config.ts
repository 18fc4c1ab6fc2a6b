import { existsSync } from 'node:fs';
import { z } from 'zod';

/**
 * The only place that reads the environment. Everything else receives a `Config`.
 */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(blankToUndefined, z.string().optional());
const intInRange = (fallback: number, min: number, max: number) =>
  z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: `must be a whole number from ${min} to ${max}` })
      .int(`must be a whole number from ${min} to ${max}`)
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(fallback),
  );

const envSchema = z
  .object({
    PORT: intInRange(3000, 0, 65535),
    HOST: z.preprocess(blankToUndefined, z.string().default('127.0.0.1')),
    DATABASE_PATH: z.preprocess(blankToUndefined, z.string().default('./data/app.db')),
    WECHAT_APPID: optionalString,
    WECHAT_SECRET: optionalString,
    WECHAT_API_BASE: z.preprocess(
      blankToUndefined,
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://api.weixin.qq.com' }).optional(),
    ),
    WECHAT_TIMEOUT_MS: intInRange(5000, 100, 60000),
    JWT_SECRET: optionalString,
    SESSION_TTL_SECONDS: intInRange(604800, 1, 31536000),
    LOGIN_RATE_LIMIT_PER_MINUTE: intInRange(30, 1, 100000),
    LOG_LEVEL: z.preprocess(
      blankToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
  });

/** Rules across variables. Checked on the raw environment so they are reported even when another variable is bad. */
function crossVariableProblems(env: Record<string, string | undefined>): string[] {
  const set = (name: string) => {
    const value = env[name];
    return value !== undefined && value.trim() !== '' ? value : undefined;
  };
  const appId = set('WECHAT_APPID');
  const secret = set('WECHAT_SECRET');
  const jwtSecret = set('JWT_SECRET');
  const problems: string[] = [];
  const both = '(set both for real mode, or neither for the simulator)';
  if (appId !== undefined && secret === undefined) problems.push(`WECHAT_SECRET: is required when WECHAT_APPID is set ${both}`);
  if (secret !== undefined && appId === undefined) problems.push(`WECHAT_APPID: is required when WECHAT_SECRET is set ${both}`);
  if ((appId !== undefined || secret !== undefined) && jwtSecret === undefined) {
    problems.push('JWT_SECRET: is required in real mode (WECHAT_APPID set): use at least 32 random bytes, e.g. `openssl rand -base64 48`');
  }
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret, 'utf8') < 32) {
    problems.push(`JWT_SECRET: is too short (${Buffer.byteLength(jwtSecret, 'utf8')} bytes): use at least 32 random bytes, e.g. \`openssl rand -base64 48\``);
  }
  return problems;
}

export type WeChatMode =
  | { kind: 'real'; appId: string; secret: string; apiBase: string }
  | { kind: 'simulator'; apiBase: string | undefined };

export interface Config {
  port: number;
  host: string;
  databasePath: string;
  wechat: WeChatMode;
  wechatTimeoutMs: number;
  /** Undefined in simulator mode when not set: a secret is generated and kept beside the database. */
  jwtSecret: string | undefined;
  sessionTtlSeconds: number;
  loginRateLimitPerMinute: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID' as const;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment. Never echoes a value: a line names the variable and what to do. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = envSchema.safeParse(env);
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => `${String(issue.path[0] ?? 'environment')}: ${issue.message}`)),
    ...crossVariableProblems(env),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError([...new Set(problems)]);
  const e = result.data;
  const wechat: WeChatMode =
    e.WECHAT_APPID !== undefined && e.WECHAT_SECRET !== undefined
      ? { kind: 'real', appId: e.WECHAT_APPID, secret: e.WECHAT_SECRET, apiBase: e.WECHAT_API_BASE ?? 'https://api.weixin.qq.com' }
      : { kind: 'simulator', apiBase: e.WECHAT_API_BASE };
  return {
    port: e.PORT,
    host: e.HOST,
    databasePath: e.DATABASE_PATH,
    wechat,
    wechatTimeoutMs: e.WECHAT_TIMEOUT_MS,
    jwtSecret: e.JWT_SECRET,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
    logLevel: e.LOG_LEVEL,
  };
}

/** Reads `.env` (when present, without overriding the real environment) and then `process.env`. */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}

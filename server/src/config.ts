import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
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
    DATABASE_URL: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^postgres(ql)?:\/\/[^\s]+$/, 'must be a PostgreSQL URL such as postgres://user:password@host:5432/database')
        .optional(),
    ),
    DATABASE_POOL_SIZE: intInRange(10, 1, 1000),
    WORKERS: z.preprocess(
      blankToUndefined,
      z
        .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)], { error: 'must be a whole number from 1 to 256, or auto (one per CPU)' })
        .optional(),
    ),
    /** Internal: set by the cluster primary for its workers (the simulator they share). Not for users. */
    WXKIT_SIMULATOR_UPSTREAM: optionalString,
    /** Internal, for test suites: `1` checks every procedure's output against its schema, as tRPC's stock path does. */
    WXKIT_VALIDATE_OUTPUTS: z.preprocess(blankToUndefined, z.enum(['0', '1']).optional()),
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
    PUBLIC_URL: z.preprocess(
      blankToUndefined,
      z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://api.example.com' })
        .refine((v) => !v.endsWith('/') && !/[?#]/.test(v), 'must have no trailing slash, query or fragment, such as https://api.example.com')
        .optional(),
    ),
    MEDIA_DIR: optionalString,
    S3_ENDPOINT: z.preprocess(
      blankToUndefined,
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://s3.example.com' }).optional(),
    ),
    S3_BUCKET: z.preprocess(
      blankToUndefined,
      z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a bucket name: 3 to 63 of a-z, 0-9, . and -').optional(),
    ),
    S3_ACCESS_KEY_ID: optionalString,
    S3_SECRET_ACCESS_KEY: optionalString,
    S3_REGION: z.preprocess(blankToUndefined, z.string().default('us-east-1')),
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
  const workers = set('WORKERS');
  if (workers !== undefined && workers !== '1' && set('DATABASE_URL') === undefined && (set('DATABASE_PATH') ?? '') === ':memory:') {
    problems.push('WORKERS: needs a shared database, but DATABASE_PATH is :memory: (each process would have its own): use a file, DATABASE_URL, or WORKERS=1');
  }
  // Bucket storage needs all four; a partial set is a mistake, not a reason to fall back to the local folder.
  const s3 = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];
  const s3Missing = s3.filter((name) => set(name) === undefined);
  if (s3Missing.length > 0 && s3Missing.length < s3.length) {
    for (const name of s3Missing) problems.push(`${name}: is required when any of ${s3.join(', ')} is set (set all four for bucket storage, or none to keep media in MEDIA_DIR)`);
  }
  return problems;
}

/** Where uploaded images are kept: a local folder (`dir` null: a temp folder, for a `:memory:` database) or a bucket. */
export type MediaStorageConfig =
  | { kind: 'local'; dir: string | null }
  | { kind: 's3'; endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };

export type WeChatMode =
  | { kind: 'real'; appId: string; secret: string; apiBase: string }
  | { kind: 'simulator'; apiBase: string | undefined };

export interface Config {
  port: number;
  host: string;
  /** SQLite file (ignored when `databaseUrl` is set). */
  databasePath: string;
  /** PostgreSQL: several server processes share it. Never printed (it may hold a password). */
  databaseUrl: string | undefined;
  /** Connections each server process may hold with PostgreSQL. */
  databasePoolSize: number;
  /** Server processes sharing the port (node:cluster); 1 runs in this process alone. */
  workers: number;
  /** In a cluster worker in simulator mode: the primary's simulator, which every worker shares. */
  simulatorUpstream: string | undefined;
  /**
   * Check outputs the server builds from typed rows against their schemas too (tests). Off: `/trpc`'s fast path skips
   * the zod check of procedures marked `outputFromTypedRows`, which cannot fail it.
   */
  validateOutputs: boolean;
  wechat: WeChatMode;
  wechatTimeoutMs: number;
  /** Undefined in simulator mode when not set: a secret is generated and kept beside the database. */
  jwtSecret: string | undefined;
  sessionTtlSeconds: number;
  loginRateLimitPerMinute: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Our own origin as clients reach it (stored avatar URLs start with it); undefined: each request's origin. */
  publicUrl: string | undefined;
  media: MediaStorageConfig;
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
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    // One per CPU in production (real mode); one in simulator mode, which is for development and tests.
    workers: e.WORKERS === 'auto' || (e.WORKERS === undefined && wechat.kind === 'real') ? availableParallelism() : (e.WORKERS ?? 1),
    simulatorUpstream: e.WXKIT_SIMULATOR_UPSTREAM,
    validateOutputs: e.WXKIT_VALIDATE_OUTPUTS === '1',
    wechat,
    wechatTimeoutMs: e.WECHAT_TIMEOUT_MS,
    jwtSecret: e.JWT_SECRET,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
    logLevel: e.LOG_LEVEL,
    publicUrl: e.PUBLIC_URL,
    media:
      e.S3_ENDPOINT !== undefined && e.S3_BUCKET !== undefined && e.S3_ACCESS_KEY_ID !== undefined && e.S3_SECRET_ACCESS_KEY !== undefined
        ? { kind: 's3', endpoint: e.S3_ENDPOINT, bucket: e.S3_BUCKET, region: e.S3_REGION, accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
        : { kind: 'local', dir: e.MEDIA_DIR ?? (e.DATABASE_PATH === ':memory:' ? null : join(dirname(e.DATABASE_PATH), 'media')) },
  };
}

/** Reads `.env` (when present, without overriding the real environment) and then `process.env`. */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}

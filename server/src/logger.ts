import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';

/**
 * Query parameters whose values never reach a log line: the simulator's URLs carry the AppSecret, codes, the
 * access_token, and checksession's openid and session_key signature.
 */
const secretParams = /([?&](?:secret|appsecret|js_code|code|token|access_token|session_key|openid|signature)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(secretParams, '$1[REDACTED]');
}

/** Paths pino censors wherever they appear in a logged object. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'jwtSecret',
  'session_key',
  'sessionKey',
  'openid',
  'unionid',
  'code',
  'password',
  'currentPassword',
  'newPassword',
  'accessToken',
  'access_token',
  '*.token',
  '*.secret',
  '*.session_key',
  '*.sessionKey',
  '*.openid',
  '*.unionid',
  '*.password',
  '*.accessToken',
  '*.access_token',
];

export function loggerOptions(config: Pick<Config, 'logLevel'>, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    serializers: {
      req(request) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
      },
    },
    ...(stream ? { stream } : {}),
  };
}

/** pino's level values (we use no custom levels). */
const levelValues: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
type LevelMethod = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

/**
 * A request's logger, made real (a pino child carrying the request id) by its first call at an enabled level.
 * Fastify makes one per request; above info level nothing logs per request, so most are never made. Methods live
 * on the prototype: a request costs this one small object.
 */
class LazyRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  private log(method: LevelMethod, args: unknown[]): void {
    if ((levelValues[method] ?? 0) < (levelValues[this.level] ?? 0)) return;
    const logger = this.logger;
    (logger[method] as (...a: unknown[]) => void).apply(logger, args);
  }

  fatal(...args: unknown[]): void {
    this.log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.log('error', args);
  }
  warn(...args: unknown[]): void {
    this.log('warn', args);
  }
  info(...args: unknown[]): void {
    this.log('info', args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.log('trace', args);
  }
  silent(): void {}
}

/** Fastify's `childLoggerFactory`: request loggers that cost nothing until something is logged. */
export const lazyChildLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  new LazyRequestLogger(logger, bindings, options);

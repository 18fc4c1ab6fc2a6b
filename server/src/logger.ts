import type { FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';

/** Query parameters whose values never reach a log line (the simulator's URL carries the AppSecret and the code). */
const secretParams = /([?&](?:secret|appsecret|js_code|code|token|access_token|session_key)=)[^&#]*/gi;

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
  '*.token',
  '*.secret',
  '*.session_key',
  '*.sessionKey',
  '*.openid',
  '*.unionid',
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

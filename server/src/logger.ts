import type { FastifyServerOptions } from 'fastify';
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

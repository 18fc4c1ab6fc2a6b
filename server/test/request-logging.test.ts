import { describe, expect, it } from 'vitest';
import { loginRaw } from './hardening/support.ts';
import { startTestServer } from './support/server.ts';

/**
 * Request loggers are made on first use (lazyChildLoggerFactory): at info level every request still logs its lines
 * with its request id; above it, a request that logs something (a warning) still carries its id.
 */

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
}

const lines = (logs: string[]) => logs.flatMap((text) => text.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as LogLine);

describe('request logging', () => {
  it('at info: incoming request and request completed, with one request id', async () => {
    const server = await startTestServer();
    try {
      await fetch(`${server.url}/healthz`);
      const mine = lines(server.logs).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
      expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
      expect(mine[0]?.reqId).toBeTruthy();
      expect(mine[1]?.reqId).toBe(mine[0]?.reqId);
    } finally {
      await server.close();
    }
  });

  it('at warn: no per-request lines, and a warning a request logs carries its id', async () => {
    const server = await startTestServer({ LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT_PER_MINUTE: '1' });
    try {
      for (let i = 0; i < 2; i++) await loginRaw(server.url, `log-${i}`);
      const logged = lines(server.logs);
      expect(logged.some((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toBe(false);
      const warning = logged.find((l) => l.msg.includes('login rate limit'));
      expect(warning?.level).toBe(40);
      expect(warning?.reqId).toBeTruthy();
    } finally {
      await server.close();
    }
  });
});

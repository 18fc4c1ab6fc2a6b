import { AppError } from '../trpc/app-error.ts';

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '53300', // too_many_connections
]);

/** A failure to reach or keep a connection to the database, as opposed to a query the database refused. */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (connectionCodes.has(code) || code.startsWith('08'))) return true;
    const message = e instanceof Error ? e.message : '';
    // node-postgres' own wording for a pool that could not connect in time or a socket that died mid-query.
    if (/Connection terminated|timeout exceeded when trying to connect|Connection ended unexpectedly|Client has encountered a connection error/i.test(message)) return true;
  }
  return false;
}

/** The database is unreachable: 503 `database_unavailable`, quickly, and the request is safe to retry. */
export class DatabaseUnavailableError extends AppError {
  /** What the driver said (a code such as ECONNREFUSED or 57P01), for logs. */
  readonly driverCode: string | undefined;
  constructor(cause?: unknown) {
    super('SERVICE_UNAVAILABLE', 'database_unavailable', 'The database is not reachable right now: try again in a moment.');
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.driverCode = typeof code === 'string' ? code : undefined;
  }
}

/** Start-up could not connect: names host, port and database (never the password) and what to check. */
export class DatabaseConnectError extends Error {
  readonly code = 'DATABASE_CONNECT_FAILED' as const;
  constructor(where: string, cause: unknown) {
    const why = (cause as { code?: string } | undefined)?.code ?? (cause instanceof Error ? cause.message : String(cause));
    super(`cannot connect to PostgreSQL at ${where} (${why}): check DATABASE_URL (host, port, database, user, password) and that the server is running and accepts connections from this host.`);
    this.name = 'DatabaseConnectError';
  }
}

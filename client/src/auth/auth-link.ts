import type { Operation, TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { AppRouter } from '@wxkit/server';
import type { AuthSession } from './auth-session.ts';
import { isApiError, toApiError } from './errors.ts';
import { abortError } from './flight.ts';

/**
 * Where a call records the token it was actually sent with. The auth link puts a fresh holder in each
 * attempt's context; `authHeaders` (httpBatchLink's `headers`) fills it when the request is sent.
 */
const SENT = 'wxkit.sentWith';
interface SentWith {
  token: string | undefined;
}

/**
 * httpBatchLink's `headers`: reads the token from storage at send time, once per HTTP request, and records it
 * on every call of the batch so the auth link knows which token a 401 was about.
 */
export function authHeaders(session: Pick<AuthSession, 'token'>) {
  return ({ opList }: { opList: readonly Operation[] }): Record<string, string> => {
    const token = session.token();
    for (const op of opList) {
      const sent = op.context[SENT] as SentWith | undefined;
      if (sent) sent.token = token;
    }
    return token ? { authorization: `Bearer ${token}` } : {};
  };
}

function isUnauthorized(error: unknown): boolean {
  return isApiError(error) && error.data?.code === 'UNAUTHORIZED';
}

/**
 * The auth link, placed before the terminating httpBatchLink:
 * - a call waits for a token (logging in first when there is none, checking the session once per app show);
 * - on UNAUTHORIZED it logs in again (once for all calls, unless the token already changed since the call was
 *   sent) and retries the call once; a second UNAUTHORIZED reaches the caller;
 * - `login` passes straight through (it is how a session starts, never a reason to start one);
 * - network and other errors reach the caller unchanged;
 * - unsubscribing aborts whatever the call waits on (its request, or its share of a login).
 */
export function authLink(session: AuthSession): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.path === 'login') return next(op);
      return observable((observer) => {
        // Aborted by the caller's signal (promise calls) or by unsubscribing: either way, stop waiting.
        const controller = new AbortController();
        let downstream: Unsubscribable | undefined;
        let closed = false;
        let inFlight = false;

        const close = () => {
          closed = true;
          op.signal?.removeEventListener('abort', onCallerAbort);
        };
        const fail = (error: unknown) => {
          if (closed) return;
          close();
          observer.error(toApiError(error));
        };
        function onCallerAbort() {
          controller.abort();
          // A request in flight ends through httpBatchLink (it sees op.signal); a wait ends here.
          if (!inFlight) fail(abortError());
        }

        const send = (retried: boolean) => {
          if (closed) return;
          const sent: SentWith = { token: undefined };
          inFlight = true;
          downstream = next({ ...op, context: { ...op.context, [SENT]: sent } }).subscribe({
            next: (value) => observer.next(value),
            complete: () => {
              close();
              observer.complete();
            },
            error: (error) => {
              inFlight = false;
              if (retried || !isUnauthorized(error) || controller.signal.aborted) {
                if (closed) return;
                close();
                return observer.error(error);
              }
              session.renew(sent.token, controller.signal).then(() => send(true), fail);
            },
          });
        };

        if (op.signal?.aborted) {
          fail(abortError());
        } else {
          op.signal?.addEventListener('abort', onCallerAbort, { once: true });
          session.ready(controller.signal).then(() => send(false), fail);
        }

        return () => {
          close();
          controller.abort();
          downstream?.unsubscribe();
        };
      });
    };
}

import type { Operation, OperationResultEnvelope, TRPCLink } from '@trpc/client';
import type { inferRouterInputs } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { AppRouter } from '@wxkit/server';
import type { AuthSession, SessionGrant } from './auth-session.ts';
import { isSessionFailure, toApiError } from './errors.ts';
import { abortError } from './flight.ts';
import { freshInputOf } from './fresh-input.ts';

/**
 * Where a call records the token it was actually sent with. The auth link puts a fresh holder in each
 * attempt's context; `authHeaders` (httpBatchLink's `headers`) fills it when the request is sent.
 */
const SENT = 'wxkit.sentWith';
interface SentWith {
  token: string | undefined;
}

type Procedure = keyof inferRouterInputs<AppRouter>;

/** Procedures that answer a session for the app to use from then on (typed: a rename on the server breaks this). */
const GRANTS_SESSION: ReadonlySet<string> = new Set<Procedure>(['bindAccount', 'signUp', 'loginWithPassword']);
/** Public ways in: they need no token (never a reason to log in first) and a 401 from them is an answer, not a cue. */
const STARTS_SESSION: ReadonlySet<string> = new Set<Procedure>(['signUp', 'loginWithPassword']);

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

/** The session in a successful answer of a GRANTS_SESSION procedure (checked by hand: no zod in the bundle). */
function grantIn(envelope: OperationResultEnvelope<unknown, unknown>): SessionGrant | undefined {
  const result = envelope.result as { data?: unknown } | undefined;
  const data = result?.data as Partial<SessionGrant> | undefined;
  if (typeof data?.token !== 'string' || typeof data.expiresAt !== 'string' || typeof data.user?.id !== 'string') return undefined;
  return { token: data.token, expiresAt: data.expiresAt, user: { id: data.user.id } };
}

/**
 * The auth link, placed before the terminating httpBatchLink:
 * - a call waits for a token (logging in first when there is none, checking the session once per app show);
 * - on a session failure (401 `missing`, `invalid`, `expired`, `revoked`, `session_key_stale`, or a 401 without a
 *   reason) it logs in again (once for all calls, unless the token already changed since the call was sent) and
 *   retries the call once, with fresh input when the call asked for it (`retryWithFreshInput`); a second failure
 *   reaches the caller;
 * - any other error, `credentials_invalid` (a wrong password, also a 401) included, reaches the caller unchanged;
 * - bindAccount, signUp and loginWithPassword answer a session: it is stored before the caller sees the answer,
 *   and while one is under way a 401 caused by it waits for it, then retries with its token (no login);
 * - `login` passes straight through (it is how a session starts, never a reason to start one); signUp and
 *   loginWithPassword need no token either;
 * - unsubscribing aborts whatever the call waits on (its request, or its share of a login).
 */
export function authLink(session: AuthSession): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.path === 'login') return next(op);
      const grants = GRANTS_SESSION.has(op.path);
      const startsSession = STARTS_SESSION.has(op.path);
      const fresh = freshInputOf(op.context);
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

        const send = (retried: boolean, input: unknown) => {
          if (closed) return;
          const sent: SentWith = { token: undefined };
          const pendingGrant = grants ? session.expectGrant() : undefined;
          inFlight = true;
          downstream = next({ ...op, input, context: { ...op.context, [SENT]: sent } }).subscribe({
            next: (value) => {
              const grant = pendingGrant ? grantIn(value) : undefined;
              if (grant) session.adopt(grant);
              pendingGrant?.settle();
              observer.next(value);
            },
            complete: () => {
              pendingGrant?.settle();
              close();
              observer.complete();
            },
            error: (error) => {
              inFlight = false;
              // Settled first: this call's own renewal must not wait for itself.
              pendingGrant?.settle();
              if (retried || startsSession || !isSessionFailure(error) || controller.signal.aborted) {
                if (closed) return;
                close();
                return observer.error(error);
              }
              session
                .renew(sent.token, controller.signal)
                .then(() => (fresh ? fresh(controller.signal) : input))
                .then((retryInput) => send(true, retryInput), fail);
            },
          });
        };

        if (op.signal?.aborted) {
          fail(abortError());
        } else {
          op.signal?.addEventListener('abort', onCallerAbort, { once: true });
          if (startsSession) send(false, op.input);
          else session.ready(controller.signal).then(() => send(false, op.input), fail);
        }

        return () => {
          close();
          controller.abort();
          downstream?.unsubscribe();
        };
      });
    };
}

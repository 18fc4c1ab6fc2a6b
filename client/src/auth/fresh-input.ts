import type { TRPCProcedureOptions } from '@trpc/client';

/**
 * Where a call keeps its "the retry needs fresh input" provider. Input that WeChat encrypted with the session_key
 * of the login it came from (wx.getWeRunData) is useless after a re-login: the retry must ask WeChat again.
 */
const FRESH_INPUT = 'wxkit.freshInput';

/** Asks the platform for the call's input again; called after the re-login, so it sees the new session. */
type FreshInput<TInput> = (signal: AbortSignal) => Promise<TInput>;

/** Per-call options: if this call has to log in again, its one retry uses `fresh()` instead of the original input. */
export function retryWithFreshInput<TInput>(fresh: FreshInput<TInput>): { context: Record<string, unknown> } {
  return { context: { [FRESH_INPUT]: fresh } };
}

/** The provider a call registered with `retryWithFreshInput`, if any (for the auth link). */
export function freshInputOf(context: Record<string, unknown>): FreshInput<unknown> | undefined {
  const fresh = context[FRESH_INPUT];
  return typeof fresh === 'function' ? (fresh as FreshInput<unknown>) : undefined;
}

/** A tRPC mutation, as the client exposes it (`api.client.syncWeRun`). */
interface Mutation<TInput, TOutput> {
  mutate(input: TInput, opts?: TRPCProcedureOptions): Promise<TOutput>;
}

/**
 * Calls `procedure` with input from `fresh()`, and with `fresh()` again if the session had to be renewed. The
 * procedure's own input type ties the two together: a provider of the wrong shape does not compile.
 */
export async function mutateWithFreshInput<TInput, TOutput>(
  procedure: Mutation<TInput, TOutput>,
  fresh: FreshInput<TInput>,
  options: { signal?: AbortSignal } = {},
): Promise<TOutput> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const input = await fresh(controller.signal);
    return await procedure.mutate(input, { ...retryWithFreshInput(fresh), ...(options.signal ? { signal: options.signal } : {}) });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

import type { CheckSessionOutput, Profile, WeRunDay } from '@wxkit/shared';
import { useEffect, useSyncExternalStore } from 'react';
import { api } from '../api/index.ts';
import { describeError } from '../api/messages.ts';
import { withSession } from '../api/with-session.ts';

/** What every page shows: who is logged in, the session, the WeRun days. One store, so a change on one page shows on all. */
export type AppState =
  | { status: 'loading' }
  | { status: 'error'; detail: string; toast: string }
  | { status: 'loggedOut' }
  | { status: 'ready'; profile: Profile; session: CheckSessionOutput; weRun: WeRunState };

export type WeRunState = { status: 'loading' } | { status: 'ready'; days: WeRunDay[] } | { status: 'error'; detail: string };

let state: AppState = { status: 'loading' };
let loading: Promise<void> | undefined;
const listeners = new Set<() => void>();

function set(next: AppState) {
  state = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The state, for a page: loads it when the page mounts, unless it is loaded or loading already (ensureLoaded). */
export function useLoadedAppState(): AppState {
  const current = useSyncExternalStore(subscribe, () => state);
  useEffect(() => {
    void ensureLoaded();
  }, []);
  return current;
}

/**
 * Logs in silently (the first call does, through the auth link) and loads the profile, the session and the WeRun
 * days: one batched request in the steady state. Concurrent callers share one load.
 */
export function load(): Promise<void> {
  loading ??= (async () => {
    set({ status: 'loading' });
    const profile = api.client.getProfile.query();
    // Sent in the same tick as the profile, so it travels in the same request; its failure only marks the steps.
    const weRun = api.client.getWeRun.query().then(
      (out): WeRunState => ({ status: 'ready', days: out.days }),
      (error: unknown): WeRunState => ({ status: 'error', detail: describeError(error).detail }),
    );
    try {
      const [loaded, session] = await withSession(api, profile);
      set({ status: 'ready', profile: loaded, session, weRun: await weRun });
    } catch (error) {
      const text = describeError(error);
      set({ status: 'error', detail: text.detail, toast: text.toast });
    } finally {
      loading = undefined;
    }
  })();
  return loading;
}

/**
 * Loads unless a load already happened or is under way (a page opened after the home page reuses its state).
 * Only `load` makes the state `ready` (the setters below keep it), so `ready` means a load succeeded.
 */
function ensureLoaded(): Promise<void> {
  if (loading) return loading;
  if (state.status === 'ready') return Promise.resolve();
  return load();
}

/** A call answered a new profile (update, upload, bind…): every page shows it. */
export function setProfile(profile: Profile) {
  if (state.status === 'ready') set({ ...state, profile });
}

export function setWeRun(weRun: WeRunState) {
  if (state.status === 'ready') set({ ...state, weRun });
}

export function setLoggedOut() {
  set({ status: 'loggedOut' });
}

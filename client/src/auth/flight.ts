/**
 * A shared asynchronous task ("single flight"): many callers join one run. Each caller passes its own
 * AbortSignal; leaving (abort) detaches only that caller, and when the last caller leaves the run itself is
 * aborted, so nothing keeps working for nobody.
 */
export interface Flight<T> {
  join(signal: AbortSignal): Promise<T>;
  /** False once settled or abandoned: a new caller must start a new flight. */
  readonly active: boolean;
}

export function abortError(): Error {
  const error = new Error('The call was cancelled (unsubscribed) before it finished.');
  error.name = 'AbortError';
  return error;
}

export function startFlight<T>(run: (signal: AbortSignal) => Promise<T>): Flight<T> {
  const controller = new AbortController();
  let waiters = 0;
  let active = true;
  const promise = run(controller.signal);
  const settle = () => {
    active = false;
  };
  promise.then(settle, settle);

  return {
    get active() {
      return active;
    },
    join(signal) {
      if (signal.aborted) return Promise.reject(abortError());
      waiters++;
      return new Promise<T>((resolve, reject) => {
        let left = false;
        const leave = () => {
          if (left) return;
          left = true;
          signal.removeEventListener('abort', onAbort);
          waiters--;
        };
        const onAbort = () => {
          leave();
          reject(abortError());
          if (waiters === 0 && active) {
            active = false;
            controller.abort();
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        promise.then(
          (value) => {
            if (left) return;
            leave();
            resolve(value);
          },
          (error: unknown) => {
            if (left) return;
            leave();
            reject(error);
          },
        );
      });
    },
  };
}

/** Waits `ms`, or rejects with an AbortError as soon as `signal` aborts (and clears the timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

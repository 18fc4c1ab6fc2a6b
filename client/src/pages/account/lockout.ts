import { useEffect, useState } from 'react';

/** A username the server locked (`too_many_attempts`) and until when, from `retryAfterSeconds`. */
export interface Lockout {
  username: string;
  until: number;
}

/** Seconds left on the lock, re-rendered every second while it runs; 0 once it lifted. */
export function useSecondsLeft(lockout: Lockout | undefined): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!lockout) return undefined;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [lockout]);
  return lockout ? Math.max(0, Math.ceil((lockout.until - now) / 1000)) : 0;
}

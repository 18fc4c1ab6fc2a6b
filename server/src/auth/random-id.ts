import { randomFillSync } from 'node:crypto';

/**
 * Random bytes from the system CSPRNG, taken from a pool refilled 4 KiB at a time (what Node's randomUUID does):
 * a `randomBytes()` call is a trip into OpenSSL plus a getpid syscall, ~5 µs here, paid twice per login. Every byte
 * is handed out once. Server processes are started fresh (node:cluster does not fork memory), so none share a pool.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

function take(size: number): number {
  if (size > POOL_SIZE) throw new RangeError(`at most ${POOL_SIZE} random bytes at a time`);
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += size;
  return start;
}

/** `size` random bytes (a copy: the pool moves on). */
export function randomBytesPooled(size: number): Buffer {
  const start = take(size);
  return Buffer.from(pool.subarray(start, start + size));
}

/** `size` random bytes as base64url: session ids. */
export function randomId(size: number): string {
  const start = take(size);
  return pool.toString('base64url', start, start + size);
}

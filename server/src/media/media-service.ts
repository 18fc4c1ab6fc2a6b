import { createHash } from 'node:crypto';
import type { ProfileRow, Store } from '../db/store.ts';
import type { AvatarImage } from './avatar-image.ts';
import { contentTypeOf, type MediaStorage } from './media-storage.ts';

/** Rows this old with no user are left-overs of a crash between steps; younger ones may be an upload in flight. */
export const SWEEP_AGE_MS = 60 * 60_000;
const SWEEP_BATCH = 100;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MediaServiceOptions {
  store: Store;
  storage: MediaStorage;
  now?: () => number;
  log?: Log;
}

export interface MediaService {
  /**
   * Stores a processed avatar and points the user at it (`avatarUrl` = `<baseUrl>/media/<key>`). The user's previous
   * stored image is released. Undefined when the user no longer exists.
   */
  setAvatar(userId: string, image: AvatarImage, baseUrl: string): Promise<{ profile: ProfileRow; key: string } | undefined>;
  /** A stored image some change stopped using: removed in the background when no user refers to it any more. */
  release(key: string): void;
  /** Collects every image no user has referred to for SWEEP_AGE_MS; how many were removed. */
  sweep(): Promise<number>;
  /** Resolves when every release and sweep started so far has finished (tests). */
  settle(): Promise<void>;
  /** Stops a sweep in progress after its current image, then waits for removals in flight. */
  close(): Promise<void>;
}

function mediaKeyOf(image: AvatarImage): string {
  return `${createHash('sha256').update(image.bytes).digest('hex')}.${image.ext}`;
}

/**
 * The lifecycle of content-addressed images shared between users. The database decides who uses a key (one
 * transaction per step); the storage only holds bytes. Race-free against a concurrent upload of the same key:
 * - upload: put bytes → point the user at the key (records the media row) → bytes still there? (a collector may
 *   have removed them between our put and our row) put again;
 * - collect: delete the row only if unreferenced → keep the bytes in hand → delete them → if a row for the key
 *   came back meanwhile (someone uploaded the same image), put the bytes back.
 */
export function createMediaService(options: MediaServiceOptions): MediaService {
  const { store, storage } = options;
  const now = options.now ?? Date.now;
  const pending = new Set<Promise<unknown>>();
  /** One collection per key at a time in this process. */
  const collecting = new Map<string, Promise<boolean>>();
  let closing = false;

  const track = <T>(work: Promise<T>): Promise<T> => {
    pending.add(work);
    void work.finally(() => pending.delete(work)).catch(() => {});
    return work;
  };

  async function collectOnce(key: string): Promise<boolean> {
    if (!(await store.deleteMediaIfUnreferenced(key))) return false;
    const bytes = await storage.get(key);
    await storage.delete(key);
    if (await store.media(key)) {
      if (bytes) await storage.put(key, bytes, contentTypeOf(key));
      else options.log?.warn({ key }, 'an image came back into use while being removed and its bytes were already gone: the next upload of it stores them again');
      return false;
    }
    return true;
  }

  function collect(key: string): Promise<boolean> {
    const running = collecting.get(key);
    if (running) return running;
    const work = collectOnce(key)
      .catch((error: unknown) => {
        options.log?.warn({ err: error, key }, 'could not remove an unused image; it stays stored (harmless) until a later removal');
        return false;
      })
      .finally(() => collecting.delete(key));
    collecting.set(key, work);
    return track(work);
  }

  async function settle(): Promise<void> {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }

  async function sweep(): Promise<number> {
    let removed = 0;
    // Each batch only holds rows that are still unreferenced and get deleted, so batches shrink; the bound is a backstop.
    for (let batch = 0; batch < 1000; batch++) {
      const keys = await store.unreferencedMedia(now() - SWEEP_AGE_MS, SWEEP_BATCH);
      for (const key of keys) {
        if (closing) return removed;
        if (await collect(key)) removed++;
      }
      if (keys.length < SWEEP_BATCH) break;
    }
    if (removed > 0) options.log?.info({ removed }, 'removed stored images no user refers to (left by an interrupted change)');
    return removed;
  }

  return {
    async setAvatar(userId, image, baseUrl) {
      const key = mediaKeyOf(image);
      await storage.put(key, image.bytes, image.contentType);
      const change = await store.setAvatarMedia(
        userId,
        { key, contentType: image.contentType, size: image.bytes.length, width: image.width, height: image.height },
        `${baseUrl}/media/${key}`,
        now(),
      );
      if (!(await storage.exists(key))) await storage.put(key, image.bytes, image.contentType);
      if (!change) {
        // The user is gone: the row recorded for the key may have no one else.
        void collect(key);
        return undefined;
      }
      if (change.previousMediaKey) void collect(change.previousMediaKey);
      return { profile: change.profile, key };
    },

    release(key) {
      void collect(key);
    },

    sweep() {
      return track(
        sweep().catch((error: unknown) => {
          options.log?.warn({ err: error }, 'the sweep for unused stored images failed; it runs again at the next start');
          return 0;
        }),
      );
    },

    settle,

    async close() {
      closing = true;
      await settle();
    },
  };
}

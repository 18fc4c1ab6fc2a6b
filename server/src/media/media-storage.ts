/**
 * Where the bytes of stored images live, behind one interface: a local folder (default) or an S3-compatible bucket.
 * Keys are content-addressed (`<sha256 hex of the bytes>.<ext>`), so a key's bytes never change: `put` of an
 * existing key rewrites the same bytes, and readers may cache forever.
 */
export interface MediaStorage {
  /** For the start-up log line: where the bytes go (a folder, or endpoint + bucket; never a credential). */
  readonly description: string;
  /** Stores the bytes under the key, all or nothing (a reader never sees a partial file). */
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The bytes, or undefined when the key is not stored. */
  get(key: string): Promise<Buffer | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes the key; removing a key that is not stored is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export const CONTENT_TYPES = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
} as const;
export type MediaExtension = keyof typeof CONTENT_TYPES;

/** A key's bytes never change: HTTP caches (and the bucket's objects) may keep them for good. */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';

/** Exactly what a key looks like: 64 lower-case hex digits, a dot, a known extension. Nothing else is ever a path. */
export const MEDIA_KEY = /^[0-9a-f]{64}\.(?:jpg|png|webp)$/;

export function isMediaKey(key: string): boolean {
  return MEDIA_KEY.test(key);
}

/** Storages refuse anything else, so no caller can turn a key into a path outside the media folder or bucket. */
export function assertMediaKey(key: string): void {
  if (!isMediaKey(key)) throw new Error(`not a media key (expected <64 hex>.<jpg|png|webp>): ${JSON.stringify(key.slice(0, 80))}`);
}

export function contentTypeOf(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1) as MediaExtension;
  return CONTENT_TYPES[ext];
}

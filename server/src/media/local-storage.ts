import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertMediaKey, type MediaStorage } from './media-storage.ts';

/** Temp files older than this are left-overs of a crash mid-write (a live write takes milliseconds). */
const STALE_TEMP_MS = 60 * 60_000;

export interface LocalStorageOptions {
  dir: string;
  /** Delete the whole folder on close: for the temp folder that goes with a `:memory:` database. */
  removeOnClose?: boolean;
}

/**
 * A folder: `<dir>/<first 2 hex>/<key>` (the fan-out keeps any one folder small), written atomically through
 * `<dir>/.tmp/` (write, fsync, rename), so a reader or a crash never leaves a half-written image under its key.
 */
export function createLocalMediaStorage(options: LocalStorageOptions): MediaStorage {
  const dir = resolve(options.dir);
  const tmpDir = join(dir, '.tmp');
  try {
    mkdirSync(tmpDir, { recursive: true });
  } catch (error) {
    throw new Error(`MEDIA_DIR: cannot create the media folder ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}): make it writable or point MEDIA_DIR elsewhere`, { cause: error });
  }
  removeStaleTempFiles(tmpDir);

  const pathOf = (key: string) => {
    assertMediaKey(key);
    return join(dir, key.slice(0, 2), key);
  };

  return {
    description: `folder ${dir}`,

    async put(key, bytes) {
      const target = pathOf(key);
      const temp = join(tmpDir, `${randomUUID()}.part`);
      try {
        const handle = await open(temp, 'wx', 0o644);
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await mkdir(join(dir, key.slice(0, 2)), { recursive: true });
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },

    async get(key) {
      try {
        return await readFile(pathOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },

    async exists(key) {
      try {
        return (await stat(pathOf(key))).isFile();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },

    async delete(key) {
      try {
        await unlink(pathOf(key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },

    async close() {
      if (options.removeOnClose) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Only old ones: another process sharing the folder may be writing right now. */
function removeStaleTempFiles(tmpDir: string) {
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of readdirSync(tmpDir)) {
    const path = join(tmpDir, name);
    try {
      if (statSync(path).mtimeMs < cutoff) rmSync(path, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

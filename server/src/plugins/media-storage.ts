import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import type { MediaStorageConfig } from '../config.ts';
import { createLocalMediaStorage } from '../media/local-storage.ts';
import { createMediaService, type MediaService } from '../media/media-service.ts';
import type { MediaStorage } from '../media/media-storage.ts';
import { createS3MediaStorage } from '../media/s3-storage.ts';

declare module 'fastify' {
  interface FastifyInstance {
    mediaStorage: MediaStorage;
    /** The avatar lifecycle (store, release, sweep); tests await `settle()` before looking at the storage. */
    mediaService: MediaService;
  }
}

export function openMediaStorage(config: MediaStorageConfig): MediaStorage {
  if (config.kind === 's3') return createS3MediaStorage(config);
  // A `:memory:` database forgets its media rows at exit: its images go in a temp folder that goes with it.
  if (config.dir === null) return createLocalMediaStorage({ dir: mkdtempSync(join(tmpdir(), 'wxkit-media-')), removeOnClose: true });
  return createLocalMediaStorage({ dir: config.dir });
}

/**
 * Opens the media storage (local folder or bucket) and the media service on it. Once the app is ready it sweeps, in
 * the background, the stored images no user refers to (left behind by a crash between two steps). On close it
 * waits for removals in flight, then closes the storage; the database plugin, registered earlier, closes after.
 */
export const mediaStoragePlugin = fp<{ config: MediaStorageConfig; now?: () => number }>(
  async (app, options) => {
    const storage = openMediaStorage(options.config);
    const service = createMediaService({ store: app.store, storage, log: app.log, ...(options.now ? { now: options.now } : {}) });
    app.decorate('mediaStorage', storage);
    app.decorate('mediaService', service);
    app.addHook('onReady', async () => {
      app.log.info({ storage: storage.description }, 'media storage ready');
      void service.sweep();
    });
    app.addHook('onClose', async () => {
      await service.close();
      await storage.close();
    });
  },
  { name: 'media-storage', dependencies: ['database'] },
);

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { createLocalMediaStorage } from '../src/media/local-storage.ts';
import type { MediaStorage } from '../src/media/media-storage.ts';
import { createS3MediaStorage } from '../src/media/s3-storage.ts';
import { openMediaStorage } from '../src/plugins/media-storage.ts';
import { asProfile, errorOf, keyOf, pngBomb, pngImage, uploadAvatar } from './media-helpers.ts';
import { startS3Server, type TestS3Server } from './s3/s3-server.ts';
import { configError } from './support/config-error.ts';
import { createClient, loginAs, responseBodies, allLogLines, startTestServer, type TestServer } from './support/server.ts';

let s3: TestS3Server;
let localDir: string;
beforeAll(async () => {
  s3 = await startS3Server();
  localDir = mkdtempSync(join(tmpdir(), 'wxkit-media-storage-'));
});
afterAll(async () => {
  await s3.close();
  rmSync(localDir, { recursive: true, force: true });
});

const keyA = `${'a'.repeat(64)}.png`;
const keyB = `${'b'.repeat(64)}.jpg`;

describe.each([
  ['local folder', () => createLocalMediaStorage({ dir: localDir })],
  ['S3 bucket (s3rver over HTTP)', () => createS3MediaStorage({ ...s3, region: 'us-east-1' })],
] as Array<[string, () => MediaStorage]>)('MediaStorage: %s', (_name, open) => {
  let storage: MediaStorage;
  beforeAll(() => {
    storage = open();
  });
  afterAll(() => storage.close());

  it('puts, gets, tells whether a key exists, and deletes', async () => {
    const bytes = Buffer.from(await pngImage(32, 32));
    expect(await storage.exists(keyA)).toBe(false);
    expect(await storage.get(keyA)).toBeUndefined();
    await storage.put(keyA, bytes, 'image/png');
    expect(await storage.exists(keyA)).toBe(true);
    expect(Buffer.compare((await storage.get(keyA))!, bytes)).toBe(0);
    // Content-addressed: a second put of the key is the same bytes again, not an error.
    await storage.put(keyA, bytes, 'image/png');
    expect(Buffer.compare((await storage.get(keyA))!, bytes)).toBe(0);
    await storage.delete(keyA);
    expect(await storage.exists(keyA)).toBe(false);
    expect(await storage.get(keyA)).toBeUndefined();
  });

  it('deleting a key that is not stored is not an error', async () => {
    await expect(storage.delete(keyB)).resolves.toBeUndefined();
  });

  it('round-trips 1 MiB of arbitrary bytes exactly', async () => {
    const bytes = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    await storage.put(keyB, bytes, 'image/jpeg');
    expect(Buffer.compare((await storage.get(keyB))!, bytes)).toBe(0);
    await storage.delete(keyB);
  });

  it.each(['../app.db', `../${keyA}`, `ab/${keyA}`, keyA.toUpperCase(), `${'a'.repeat(64)}.svg`, ''])('refuses %j as a key before touching anything', async (bad) => {
    await expect(storage.put(bad, Buffer.from('x'), 'image/png')).rejects.toThrow(/not a media key/);
    await expect(storage.get(bad)).rejects.toThrow(/not a media key/);
    await expect(storage.exists(bad)).rejects.toThrow(/not a media key/);
    await expect(storage.delete(bad)).rejects.toThrow(/not a media key/);
  });
});

describe('local folder storage', () => {
  it('fans keys out by their first two hex digits and leaves no temp file behind', async () => {
    const dir = join(localDir, 'fanout');
    const storage = createLocalMediaStorage({ dir });
    await storage.put(keyA, Buffer.from('image bytes'), 'image/png');
    expect(existsSync(join(dir, 'aa', keyA))).toBe(true);
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    await storage.close();
  });

  it('clears temp files older than an hour (a crash mid-write) at open, and keeps fresh ones (another process writing)', () => {
    const dir = join(localDir, 'stale');
    mkdirSync(join(dir, '.tmp'), { recursive: true });
    writeFileSync(join(dir, '.tmp', 'old.part'), 'half an image');
    writeFileSync(join(dir, '.tmp', 'fresh.part'), 'being written');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(dir, '.tmp', 'old.part'), twoHoursAgo, twoHoursAgo);
    createLocalMediaStorage({ dir });
    expect(readdirSync(join(dir, '.tmp'))).toEqual(['fresh.part']);
  });

  it('refuses to start when the folder cannot be created, naming MEDIA_DIR', () => {
    const file = join(localDir, 'a-file');
    writeFileSync(file, 'not a folder');
    expect(() => createLocalMediaStorage({ dir: join(file, 'media') })).toThrow(/MEDIA_DIR: cannot create the media folder/);
  });
});

describe('media configuration', () => {
  it('defaults MEDIA_DIR to media/ beside the database, and to a temp folder for :memory:', async () => {
    expect(parseConfig({ DATABASE_PATH: '/srv/wxkit/app.db' }).media).toEqual({ kind: 'local', dir: '/srv/wxkit/media' });
    expect(parseConfig({ DATABASE_PATH: '/srv/wxkit/app.db', MEDIA_DIR: '/var/media' }).media).toEqual({ kind: 'local', dir: '/var/media' });
    const memory = parseConfig({ DATABASE_PATH: ':memory:' }).media;
    expect(memory).toEqual({ kind: 'local', dir: null });
    const storage = openMediaStorage(memory);
    const dir = /^folder (.+)$/.exec(storage.description)?.[1];
    expect(dir && existsSync(dir)).toBe(true);
    await storage.close();
    expect(existsSync(dir!)).toBe(false);
  });

  it('uses the bucket when all four S3 variables are set (region defaults to us-east-1)', () => {
    expect(parseConfig({ ...s3.env }).media).toEqual({
      kind: 's3',
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: 'us-east-1',
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
    expect(parseConfig({ ...s3.env, S3_REGION: 'cn-north-1' }).media).toMatchObject({ region: 'cn-north-1' });
  });

  it('names every missing S3 variable when only some are set, and never prints a value', () => {
    const { problems } = configError({ S3_ENDPOINT: s3.endpoint, S3_SECRET_ACCESS_KEY: s3.secretAccessKey });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['S3_ACCESS_KEY_ID', 'S3_BUCKET']);
    expect(problems.join('\n')).not.toContain(s3.secretAccessKey);
  });

  it.each([
    ['PUBLIC_URL', 'https://example.com/', /no trailing slash/],
    ['PUBLIC_URL', 'ftp://example.com', /http\(s\) URL/],
    ['PUBLIC_URL', 'https://example.com/?a=1', /no trailing slash, query or fragment/],
    ['S3_ENDPOINT', 'not a url', /http\(s\) URL/],
    ['S3_BUCKET', 'Bad_Bucket', /bucket name/],
  ])('refuses %s=%s', (name, value, message) => {
    const env = name.startsWith('S3_') ? { ...s3.env, [name]: value } : { [name]: value };
    const line = configError(env).problems.find((p) => p.startsWith(`${name}: `));
    expect(line).toMatch(message);
    expect(line).not.toContain(value);
  });
});

describe('the server with S3 storage (a real S3-compatible server over HTTP)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(s3.env);
  });
  afterAll(() => server.close());
  const settled = () => server.app.mediaService.settle();

  it('stores an upload in the bucket and serves it from /media with the same headers', async () => {
    const login = await loginAs(server.url, 's3-alice');
    const upload = await uploadAvatar(server.url, login.token, await pngImage(700, 700, { seed: 91 }));
    expect(upload.status).toBe(200);
    const key = keyOf(asProfile(upload.json).avatarUrl);
    expect(await s3.keys()).toContain(key);
    const image = await fetch(asProfile(upload.json).avatarUrl!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await sharp(Buffer.from(await image.arrayBuffer())).metadata()).toMatchObject({ width: 512, height: 512 });
  });

  it('shares one object between two users and removes it when the last one moves on', async () => {
    const ann = await loginAs(server.url, 's3-ann');
    const ben = await loginAs(server.url, 's3-ben');
    const shared = await pngImage(80, 80, { seed: 92 });
    const key = keyOf(asProfile((await uploadAvatar(server.url, ann.token, shared)).json).avatarUrl);
    expect(keyOf(asProfile((await uploadAvatar(server.url, ben.token, shared)).json).avatarUrl)).toBe(key);
    const replacement = keyOf(asProfile((await uploadAvatar(server.url, ann.token, await pngImage(80, 80, { seed: 93 }))).json).avatarUrl);
    await settled();
    expect(await s3.keys()).toEqual(expect.arrayContaining([key, replacement]));
    await createClient(server.url, ben.token).updateProfile.mutate({ avatarUrl: 'https://example.com/ben.png' });
    await settled();
    expect(await s3.keys()).not.toContain(key);
    expect((await fetch(`${server.url}/media/${key}`)).status).toBe(404);
    // Ann's replacement is untouched, and an upload that replaces it removes it.
    await uploadAvatar(server.url, ann.token, await pngImage(80, 80, { seed: 94 }));
    await settled();
    expect(await s3.keys()).not.toContain(replacement);
  });

  it('stores nothing in the bucket for refused uploads', async () => {
    const login = await loginAs(server.url, 's3-refused');
    const before = await s3.keys();
    const bomb = await uploadAvatar(server.url, login.token, pngBomb(20000, 20000));
    expect(bomb.status).toBe(400);
    expect(errorOf(bomb.json).message).toMatch(/too many pixels/);
    const text = await uploadAvatar(server.url, login.token, Buffer.from('not an image at all'), { filename: 'a.png' });
    expect(errorOf(text.json).data.reason).toBe('invalid_input');
    await settled();
    expect(await s3.keys()).toEqual(before);
  });

  it('never writes the secret access key into a response or a log line', () => {
    expect([...responseBodies, ...allLogLines].filter((text) => text.includes(s3.secretAccessKey))).toEqual([]);
    expect(server.logs.some((line) => line.includes('media storage ready') && line.includes(`bucket ${s3.bucket}`))).toBe(true);
  });
});

describe('the server when the bucket is unreachable', () => {
  it('answers 500 internal (logged), records nothing, and keeps serving', async () => {
    const gone = await startS3Server('wxkit-gone');
    const env = gone.env;
    await gone.close(); // nothing listens on that port any more
    const server = await startTestServer(env);
    try {
      const login = await loginAs(server.url, 's3-down');
      const upload = await uploadAvatar(server.url, login.token, await pngImage(40, 40, { seed: 95 }));
      expect(upload.status).toBe(500);
      expect(errorOf(upload.json).data).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', reason: 'internal' });
      expect(await server.db.count('select count(*) as n from media')).toBe(0);
      expect((await createClient(server.url, login.token).getProfile.query()).avatarUrl).toBeNull();
      expect(server.logs.some((line) => line.includes('media request failed'))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

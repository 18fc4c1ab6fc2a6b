import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../src/db/errors.ts';
import { SWEEP_AGE_MS } from '../src/media/media-service.ts';
import {
  asProfile,
  errorOf,
  exifHasGps,
  filesIn,
  incompressiblePng,
  keyOf,
  mediaRows,
  phonePhoto,
  pngBomb,
  pngImage,
  rawRequest,
  uploadAvatar,
} from './media-helpers.ts';
import { createClient, loginAs, startTestServer, type TestServer } from './support/server.ts';
import { persistentDatabaseEnv } from './support/test-db.ts';

let server: TestServer;
let mediaDir: string;

beforeAll(async () => {
  server = await startTestServer();
  if (server.config.media.kind !== 'local' || !server.config.media.dir) throw new Error('expected the default local media folder');
  mediaDir = server.config.media.dir;
});
afterAll(async () => {
  await server.close();
  // Refused uploads are answers, not failures: nothing may have been logged as an error.
  expect(server.logs.filter((line) => /"level":(50|60)/.test(line)).map((line) => line.slice(0, 300))).toEqual([]);
});

/** Background removals finished: what the folder and the table hold now is final. */
const settled = () => server.app.mediaService.settle();

describe('POST /media/avatar', () => {
  it('stores a PNG with transparency as PNG, answers the Profile with our own URL, and getProfile agrees', async () => {
    const login = await loginAs(server.url, 'media-png');
    const png = await pngImage(800, 600, { alpha: 0.5 });
    const upload = await uploadAvatar(server.url, login.token, png);
    expect(upload.status).toBe(200);
    const profile = asProfile(upload.json);
    expect(profile).toEqual({ ...login.user, avatarUrl: expect.stringMatching(/\/media\/[0-9a-f]{64}\.png$/) });
    expect(profile.avatarUrl!.startsWith(`${server.url}/media/`)).toBe(true);
    expect(await createClient(server.url, login.token).getProfile.query()).toEqual(profile);

    const image = await fetch(profile.avatarUrl!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    expect(image.headers.get('etag')).toBe(`"${keyOf(profile.avatarUrl)}"`);
    const bytes = Buffer.from(await image.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 512, height: 384, hasAlpha: true });
    expect(keyOf(profile.avatarUrl)).toBe(`${(await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')}.png`);
  });

  it('stores a phone JPEG upright, at most 512×512, with its EXIF (GPS) gone', async () => {
    const login = await loginAs(server.url, 'media-jpeg');
    const photo = await phonePhoto({ width: 1600, height: 1200 });
    const before = await sharp(photo).metadata();
    expect(exifHasGps(before.exif)).toBe(true); // the input really carries a location
    expect(before.orientation).toBe(6);

    const upload = await uploadAvatar(server.url, login.token, photo, { filename: 'IMG_0001.JPG', type: 'image/jpeg' });
    expect(upload.status).toBe(200);
    const url = asProfile(upload.json).avatarUrl!;
    expect(url).toMatch(/\.jpg$/);
    const image = await fetch(url);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    // Orientation 6 applied: the 1600×1200 sideways file becomes a portrait 384×512.
    expect(meta).toMatchObject({ format: 'jpeg', width: 384, height: 512 });
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
  });

  it('never enlarges, stores an opaque PNG and a WebP as JPEG, and keeps wx.uploadFile formData fields harmless', async () => {
    const login = await loginAs(server.url, 'media-small');
    const small = await uploadAvatar(server.url, login.token, [
      { field: 'purpose', value: 'avatar' },
      { field: 'file', value: new Blob([new Uint8Array(await pngImage(132, 132, { alpha: 1 }))], { type: 'image/png' }), filename: 'tmp_abc.png' },
      { field: 'note', value: '头像' },
    ]);
    expect(small.status).toBe(200);
    const url = asProfile(small.json).avatarUrl!;
    expect(url).toMatch(/\.jpg$/);
    expect(await sharp(Buffer.from(await (await fetch(url)).arrayBuffer())).metadata()).toMatchObject({ width: 132, height: 132 });

    const webp = await sharp(await pngImage(700, 700, { alpha: 1, seed: 3 })).webp().toBuffer();
    const fromWebp = await uploadAvatar(server.url, login.token, webp, { filename: 'a.webp', type: 'image/webp' });
    expect(fromWebp.status).toBe(200);
    expect(asProfile(fromWebp.json).avatarUrl).toMatch(/\.jpg$/);
  });

  it('uses PUBLIC_URL for the stored URL when it is set', async () => {
    const other = await startTestServer({ PUBLIC_URL: 'https://cdn.example.com/wx' });
    try {
      const login = await loginAs(other.url, 'media-public-url');
      const upload = await uploadAvatar(other.url, login.token, await pngImage(64, 64));
      expect(asProfile(upload.json).avatarUrl).toMatch(/^https:\/\/cdn\.example\.com\/wx\/media\/[0-9a-f]{64}\.png$/);
    } finally {
      await other.close();
    }
  });
});

describe('refused uploads: a clear 4xx, nothing stored, the server fine', () => {
  let token: string;
  let avatarBefore: string | null;

  beforeAll(async () => {
    const login = await loginAs(server.url, 'media-refused');
    token = login.token;
    const first = await uploadAvatar(server.url, token, await pngImage(100, 100, { seed: 11 }));
    avatarBefore = asProfile(first.json).avatarUrl;
    await settled();
  });

  const svg = Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
  type Body = () => Promise<Parameters<typeof uploadAvatar>[2]>;
  /** A valid PNG of ~3 MB: refused for its size alone. */
  const threeMegabytes = async () => {
    const png = await incompressiblePng(1000, 1000);
    expect(png.length).toBeGreaterThan(3_000_000);
    return png;
  };
  type Options = Parameters<typeof uploadAvatar>[3];
  const cases: Array<[string, number, string, RegExp, Body, Options]> = [
    ['a text file named .png', 400, 'invalid_input', /not an image \(it is text\)/, async () => Buffer.from('hello, I am not an image\n'.repeat(20)), { filename: 'avatar.png', type: 'image/png' }],
    ['a 3 MB image', 413, 'too_large', /larger than 2 MiB/, threeMegabytes, {}],
    ['a 3 MB image sent chunked (no content-length)', 413, 'too_large', /larger than 2 MiB/, threeMegabytes, { stream: true }],
    ['a truncated JPEG', 400, 'invalid_input', /truncated/, async () => { const p = await phonePhoto({ width: 800, height: 600 }); return p.subarray(0, Math.floor(p.length * 0.6)); }, { type: 'image/jpeg' }],
    ['a 20000×20000 PNG (decompression bomb)', 400, 'invalid_input', /too many pixels \(20000×20000, 400 megapixels/, async () => pngBomb(20000, 20000), {}],
    ['an 8000×8000 PNG (64 MP: under sharp\'s own default limit, over ours)', 400, 'invalid_input', /too many pixels \(8000×8000/, async () => pngBomb(8000, 8000), {}],
    ['an SVG named .png', 400, 'invalid_input', /Unsupported image type \(SVG\)/, async () => svg, { filename: 'avatar.png', type: 'image/png' }],
    ['a GIF', 400, 'invalid_input', /Unsupported image type \(GIF\)/, async () => sharp({ create: { width: 20, height: 20, channels: 3, background: 'red' } }).gif().toBuffer(), { type: 'image/png' }],
    ['an empty file', 400, 'invalid_input', /empty/, async () => Buffer.alloc(0), {}],
    ['a PNG whose data is garbage', 400, 'invalid_input', /PNG image is (damaged|truncated)/, async () => { const p = await pngImage(50, 50); return Buffer.concat([p.subarray(0, 40), Buffer.alloc(200, 0x41)]); }, {}],
    ['no file field', 400, 'invalid_input', /no file in the field "file"/, async () => [{ field: 'name', value: 'avatar' }], {}],
    ['the file in another field', 400, 'invalid_input', /in the field "avatar"/, async () => [{ field: 'avatar', value: new Blob([new Uint8Array(await pngImage(20, 20))]), filename: 'a.png' }], {}],
    ['two files', 400, 'invalid_input', /more than one file/, async () => { const blob = new Blob([new Uint8Array(await pngImage(30, 30, { seed: 5 }))]); return [{ field: 'file', value: blob, filename: 'a.png' }, { field: 'file', value: blob, filename: 'b.png' }]; }, {}],
    ['a big text field', 400, 'invalid_input', /longer than 4 KiB/, async () => [{ field: 'note', value: 'x'.repeat(10_000) }, { field: 'file', value: new Blob([new Uint8Array(await pngImage(20, 20))]), filename: 'a.png' }], {}],
  ];

  it.each(cases)('%s → %i %s', async (_label, status, reason, message, body, options) => {
    const files = filesIn(mediaDir);
    const rows = (await mediaRows(server));
    const upload = await uploadAvatar(server.url, token, await body(), options);
    expect(upload.status).toBe(status);
    const error = errorOf(upload.json);
    expect(error.data).toMatchObject({ httpStatus: status, reason });
    expect(error.message).toMatch(message);
    await settled();
    expect(filesIn(mediaDir)).toEqual(files);
    expect((await mediaRows(server))).toEqual(rows);
    // The same connection pool, the same user: still served, profile unchanged.
    expect((await createClient(server.url, token).getProfile.query()).avatarUrl).toBe(avatarBefore);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('refuses a body that is not multipart with 415, saying how to send it', async () => {
    const response = await fetch(`${server.url}/media/avatar`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ file: 'aGVsbG8=' }),
    });
    expect(response.status).toBe(415);
    const error = errorOf(await response.json());
    expect(error.data).toMatchObject({ httpStatus: 415, reason: 'invalid_input' });
    expect(error.message).toMatch(/multipart\/form-data in the field named "file"/);
  });

  it.each([
    ['no token', undefined, 'missing'],
    ['a malformed token', 'not-a-jwt', 'invalid'],
  ])('answers 401 for %s, with the reason, and reads nothing', async (_label, bad, reason) => {
    const files = filesIn(mediaDir);
    const upload = await uploadAvatar(server.url, bad, await pngImage(40, 40, { seed: 21 }));
    expect(upload.status).toBe(401);
    expect(errorOf(upload.json).data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason });
    expect(errorOf(upload.json).message).toMatch(/log/i);
    expect(filesIn(mediaDir)).toEqual(files);
  });

  it('answers 401 revoked for a logged-out session', async () => {
    const login = await loginAs(server.url, 'media-logged-out');
    await createClient(server.url, login.token).logout.mutate();
    const upload = await uploadAvatar(server.url, login.token, await pngImage(40, 40, { seed: 22 }));
    expect(upload.status).toBe(401);
    expect(errorOf(upload.json).data.reason).toBe('revoked');
  });

  it('answers 503 database_unavailable (not a 500) when the database drops out while the avatar is stored', async () => {
    const login = await loginAs(server.url, 'media-db-down');
    // The one fault injected into our own code: what the stores raise when the database cannot be reached.
    const store = server.app.store;
    const setAvatarMedia = store.setAvatarMedia;
    store.setAvatarMedia = async () => {
      throw new DatabaseUnavailableError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    };
    try {
      const upload = await uploadAvatar(server.url, login.token, await pngImage(40, 40, { seed: 23 }));
      expect(upload.status).toBe(503);
      expect(errorOf(upload.json).data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503, reason: 'database_unavailable' });
    } finally {
      store.setAvatarMedia = setAvatarMedia;
    }
    expect((await uploadAvatar(server.url, login.token, await pngImage(40, 40, { seed: 23 }))).status).toBe(200);
  });
});

describe('lifecycle: content-addressed, shared, removed when unused', () => {
  it('an upload replaces the old avatar and removes the old file', async () => {
    const login = await loginAs(server.url, 'media-replace');
    const first = keyOf(asProfile((await uploadAvatar(server.url, login.token, await pngImage(90, 90, { seed: 31 }))).json).avatarUrl);
    await settled();
    expect(filesIn(mediaDir)).toContain(first);
    const second = keyOf(asProfile((await uploadAvatar(server.url, login.token, await pngImage(90, 90, { seed: 32 }))).json).avatarUrl);
    expect(second).not.toBe(first);
    await settled();
    expect(filesIn(mediaDir)).toContain(second);
    expect(filesIn(mediaDir)).not.toContain(first);
    expect((await mediaRows(server))).not.toContain(first);
    expect((await fetch(`${server.url}/media/${first}`)).status).toBe(404);
    expect((await fetch(`${server.url}/media/${second}`)).status).toBe(200);
  });

  it('the same image from two users is one file, kept until the last of them moves on', async () => {
    const ann = await loginAs(server.url, 'media-share-ann');
    const ben = await loginAs(server.url, 'media-share-ben');
    const shared = await pngImage(120, 120, { seed: 41 });
    const annKey = keyOf(asProfile((await uploadAvatar(server.url, ann.token, shared)).json).avatarUrl);
    const benKey = keyOf(asProfile((await uploadAvatar(server.url, ben.token, shared, { filename: 'other-name.png' })).json).avatarUrl);
    expect(benKey).toBe(annKey);
    await settled();
    expect(filesIn(mediaDir).filter((k) => k === annKey)).toHaveLength(1);
    expect((await mediaRows(server)).filter((k) => k === annKey)).toHaveLength(1);

    // Ann moves on: Ben still uses the image, so it stays.
    await uploadAvatar(server.url, ann.token, await pngImage(120, 120, { seed: 42 }));
    await settled();
    expect(filesIn(mediaDir)).toContain(annKey);
    expect((await fetch(`${server.url}/media/${annKey}`)).status).toBe(200);

    // Ben moves on to an https URL: no one uses it any more.
    const updated = await createClient(server.url, ben.token).updateProfile.mutate({ avatarUrl: 'https://example.com/ben.png' });
    expect(updated.avatarUrl).toBe('https://example.com/ben.png');
    await settled();
    expect(filesIn(mediaDir)).not.toContain(annKey);
    expect((await mediaRows(server))).not.toContain(annKey);
  });

  it('updateProfile with an https avatarUrl releases the stored image; a nickname change does not', async () => {
    const login = await loginAs(server.url, 'media-https');
    const client = createClient(server.url, login.token);
    const key = keyOf(asProfile((await uploadAvatar(server.url, login.token, await pngImage(60, 60, { seed: 51 }))).json).avatarUrl);
    await client.updateProfile.mutate({ nickname: 'Still me' });
    await settled();
    expect(filesIn(mediaDir)).toContain(key);
    await client.updateProfile.mutate({ avatarUrl: 'https://example.com/me.png' });
    await settled();
    expect(filesIn(mediaDir)).not.toContain(key);
  });

  it('bindAccount releases the WeChat user\'s image when the account keeps its own', async () => {
    const account = await createClient(server.url).signUp.mutate({ username: 'media-binder', password: 'correct horse battery' });
    const accountKey = keyOf(asProfile((await uploadAvatar(server.url, account.token, await pngImage(70, 70, { seed: 61 }))).json).avatarUrl);
    const wechat = await loginAs(server.url, 'media-binder-wx');
    const wechatKey = keyOf(asProfile((await uploadAvatar(server.url, wechat.token, await pngImage(70, 70, { seed: 62 }))).json).avatarUrl);
    const bound = await createClient(server.url, wechat.token).bindAccount.mutate({ username: 'media-binder', password: 'correct horse battery' });
    expect(keyOf(bound.user.avatarUrl)).toBe(accountKey);
    await settled();
    expect(filesIn(mediaDir)).toContain(accountKey);
    expect(filesIn(mediaDir)).not.toContain(wechatKey);
  });

  it('concurrent uploads of shared images leave every referenced image stored and nothing else', async () => {
    const users = await Promise.all(['r1', 'r2', 'r3'].map((u) => loginAs(server.url, `media-race-${u}`)));
    const images = await Promise.all([71, 72, 73].map((seed) => pngImage(48, 48, { seed })));
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        users.map((user, i) =>
          round % 3 === 2 && i === 0
            ? createClient(server.url, user.token).updateProfile.mutate({ avatarUrl: 'https://example.com/r.png' })
            : uploadAvatar(server.url, user.token, images[(round + i) % images.length]!),
        ),
      );
    }
    await settled();
    const files = filesIn(mediaDir);
    const rows = (await mediaRows(server));
    expect(files).toEqual(rows);
    for (const user of users) {
      const avatar = (await createClient(server.url, user.token).getProfile.query()).avatarUrl;
      if (avatar?.includes('/media/')) expect((await fetch(avatar)).status).toBe(200);
    }
  });
});

describe('GET /media/<key>', () => {
  let key: string;
  beforeAll(async () => {
    const login = await loginAs(server.url, 'media-get');
    key = keyOf(asProfile((await uploadAvatar(server.url, login.token, await pngImage(64, 64, { seed: 81 }))).json).avatarUrl);
  });

  it('answers HEAD with the headers and no body, and If-None-Match with 304', async () => {
    const head = await rawRequest(server.url, `/media/${key}`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('image/png');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(head.body).toBe('');
    const cached = await fetch(`${server.url}/media/${key}`, { headers: { 'if-none-match': `"${key}"` } });
    expect(cached.status).toBe(304);
  });

  const hex = 'a'.repeat(64);
  const tricks = [
    '/media',
    '/media/',
    '/media/..',
    '/media/../app.db',
    '/media/..%2F..%2Fapp.db',
    '/media/%2e%2e/%2e%2e/etc/passwd',
    '/media/.tmp/',
    `/media/${'a'.repeat(63)}.png`,
    `/media/${'a'.repeat(65)}.png`,
    `/media/${'g'.repeat(64)}.png`,
    `/media/${'A'.repeat(64)}.png`,
    `/media/${hex}.gif`,
    `/media/${hex}.svg`,
    `/media/${hex}`,
    `/media/${hex}.png/`,
    `/media/${hex}.png%00`,
    `/media/${hex}%2Epng`,
    `/media/${hex}.png`, // well-formed, not stored
  ];
  it.each(tricks)('%s → 404 with a JSON error', async (path) => {
    const response = await rawRequest(server.url, path);
    expect(response.status).toBe(404);
    const error = errorOf(JSON.parse(response.body));
    expect(error.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
    expect(error.message).toMatch(/No such image/);
  });

  it('does not serve the storage layout itself (the fan-out folder path of a stored key)', async () => {
    for (const path of [`/media/${key.slice(0, 2)}/${key}`, `/media/${key.slice(0, 2)}%2F${key}`, `/media/%2F${key}`]) {
      expect((await rawRequest(server.url, path)).status, path).toBe(404);
    }
    expect((await rawRequest(server.url, `/media/${key}`)).status).toBe(200);
    expect((await rawRequest(server.url, `/media/${key}?v=2`)).status).toBe(200);
  });
});

describe('/openapi.json', () => {
  it('describes the upload (multipart, Bearer, answers the Profile) and the image route', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security: unknown; requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }>>;
    };
    const upload = doc.paths['/media/avatar']?.post;
    expect(upload?.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(upload?.requestBody?.content ?? {})).toEqual(['multipart/form-data']);
    expect(Object.keys(upload?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '401', '413']));
    expect(Object.keys(doc.paths['/media/{key}']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '404']));
  });
});

describe('start-up sweep', () => {
  it('removes images no user has referred to for an hour (left by a crash), and keeps younger ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxkit-sweep-'));
    const env = await persistentDatabaseEnv(dir);
    const old = `${'1'.repeat(64)}.jpg`;
    const young = `${'2'.repeat(64)}.jpg`;
    try {
      const first = await startTestServer(env);
      const bytes = await sharp(await pngImage(10, 10, { alpha: 1 })).jpeg().toBuffer();
      const insert = 'insert into media (key, content_type, size, width, height, created_at) values (?, ?, ?, 10, 10, ?)';
      await first.db.query(insert, old, 'image/jpeg', bytes.length, Date.now() - SWEEP_AGE_MS - 60_000);
      await first.db.query(insert, young, 'image/jpeg', bytes.length, Date.now());
      await first.app.mediaStorage.put(old, bytes, 'image/jpeg');
      await first.app.mediaStorage.put(young, bytes, 'image/jpeg');
      await first.close();

      const second = await startTestServer(env);
      try {
        await second.app.mediaService.settle();
        expect(await second.app.mediaStorage.exists(old)).toBe(false);
        expect((await mediaRows(second))).toEqual([young]);
        expect(await second.app.mediaStorage.exists(young)).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Profile } from '@wxkit/shared';
import sharp from 'sharp';
import { envelopeError } from './hardening/support.ts';
import { encodePng } from './support/png.ts';
import type { TestDb } from './support/test-db.ts';

/** Images are made here, in the test, with sharp: no binary fixtures. */

/** A deterministic pseudo-random byte source, so "photos" are the same on every run. */
function noise(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) & 0xff;
  };
}

/** Photo-like pixels: smooth gradients plus grain, so JPEG sizes look like a phone photo's. */
function photoPixels(width: number, height: number, seed: number, grain: number): Buffer {
  const next = noise(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const g = ((next() / 255) - 0.5) * grain;
      pixels[i] = clamp((x / width) * 255 + g);
      pixels[i + 1] = clamp((y / height) * 255 + g);
      pixels[i + 2] = clamp(((x + y) % 256) + g + seed);
    }
  }
  return pixels;
}
const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

/**
 * A JPEG as a phone writes it: EXIF with GPS coordinates and a camera make, orientation 6 (stored sideways:
 * viewers rotate it 90° clockwise, so a 1600×1200 file shows as 1200×1600).
 */
export async function phonePhoto(options: { width?: number; height?: number; seed?: number; quality?: number; grain?: number } = {}): Promise<Buffer> {
  const { width = 1600, height = 1200, seed = 1, quality = 92, grain = 60 } = options;
  return sharp(photoPixels(width, height, seed, grain), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: 'WxkitTestCam', Model: 'GPS-1' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '39/1 54/1 2717/100', GPSLongitudeRef: 'E', GPSLongitude: '116/1 23/1 2916/100' },
    })
    .toBuffer();
}

/** True when an EXIF block holds a GPS IFD (tag 0x8825 in either byte order). */
export function exifHasGps(exif: Buffer | undefined): boolean {
  if (!exif) return false;
  return exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88]));
}

/** An RGBA PNG: `alpha` < 1 makes every pixel see-through (stored as PNG); 1 makes an opaque one (stored as JPEG). */
export async function pngImage(width: number, height: number, options: { alpha?: number; seed?: number } = {}): Promise<Buffer> {
  const { alpha = 0.5, seed = 7 } = options;
  return sharp(photoPixels(width, height, seed, 20), { raw: { width, height, channels: 3 } })
    .ensureAlpha(alpha)
    .png()
    .toBuffer();
}

/** Pure noise: does not compress, so the PNG is about width × height × 3 bytes. */
export async function incompressiblePng(width: number, height: number): Promise<Buffer> {
  const next = noise(99);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = next();
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

/**
 * A decompression bomb: a complete, valid PNG of width × height black pixels (1-bit greyscale, so a 20000×20000
 * one is ~50 KB on the wire and 400 megapixels, over a gigabyte as RGBA, once decoded).
 */
export function pngBomb(width: number, height: number): Buffer {
  return encodePng(width, height, 1, 0, Buffer.alloc(height * (1 + Math.ceil(width / 8))), 9); // 1-bit greyscale
}

interface UploadPart {
  field: string;
  /** A Blob is sent as a file part; a string as a text field. */
  value: Blob | string;
  filename?: string;
}

interface UploadResponse {
  status: number;
  headers: Headers;
  json: unknown;
  ms: number;
}

/** `POST /media/avatar` as wx.uploadFile sends it: real multipart built by FormData, node's fetch. */
export async function uploadAvatar(
  url: string,
  token: string | undefined,
  parts: UploadPart[] | Buffer,
  options: { filename?: string; type?: string; stream?: boolean; headers?: Record<string, string> } = {},
): Promise<UploadResponse> {
  const form = new FormData();
  const list: UploadPart[] = Buffer.isBuffer(parts)
    ? [{ field: 'file', value: new Blob([new Uint8Array(parts)], { type: options.type ?? 'image/png' }), filename: options.filename ?? 'avatar.png' }]
    : parts;
  for (const part of list) {
    if (typeof part.value === 'string') form.append(part.field, part.value);
    else form.append(part.field, part.value, part.filename ?? 'upload.bin');
  }
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
  let init: RequestInit;
  if (options.stream) {
    // Chunked, with no content-length: only the limits enforced while reading can stop it.
    const encoded = new Request('http://encode.invalid/', { method: 'POST', body: form });
    headers['content-type'] = encoded.headers.get('content-type')!;
    init = { method: 'POST', headers, body: encoded.body, duplex: 'half' } as RequestInit;
  } else {
    init = { method: 'POST', headers, body: form };
  }
  const started = performance.now();
  const response = await fetch(`${url}/media/avatar`, init);
  const text = await response.text();
  const ms = performance.now() - started;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json, ms };
}

export const asProfile = (json: unknown) => json as Profile;

/** `error` of a tRPC error envelope (envelopeError's), failing when the body is not one. */
export function errorOf(json: unknown): NonNullable<ReturnType<typeof envelopeError>> {
  const error = envelopeError(json);
  if (error === undefined) throw new Error(`not a tRPC error envelope: ${JSON.stringify(json)}`);
  return error;
}

/** The key (`<64 hex>.<ext>`) of one of our avatar URLs. */
export function keyOf(avatarUrl: string | null): string {
  const match = /\/media\/([0-9a-f]{64}\.(?:jpg|png|webp))$/.exec(avatarUrl ?? '');
  if (!match) throw new Error(`not one of our media URLs: ${avatarUrl}`);
  return match[1]!;
}

/** Every stored key in a local media folder (the fan-out folders walked; temp files left out). */
export function filesIn(dir: string): string[] {
  const keys: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.tmp') continue;
    if (entry.isDirectory()) keys.push(...readdirSync(join(dir, entry.name)));
    else keys.push(entry.name);
  }
  return keys.sort();
}

/** The keys of the media rows of a test server's database (either backend). */
export async function mediaRows(server: { db: TestDb }): Promise<string[]> {
  return (await server.db.query<{ key: string }>('select key from media order by key')).map((r) => r.key);
}

/** A GET (or HEAD) with the path sent byte for byte: fetch would resolve `..` and re-encode before sending. */
export function rawRequest(url: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

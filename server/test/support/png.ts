import { crc32, deflateSync } from 'node:zlib';

/** PNGs written byte by byte in the tests (no binary fixtures), for the server's media suites and the client's. */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A complete PNG: signature, IHDR (`width`, `height`, bit depth, colour type), one IDAT of `rows`, IEND. */
export function encodePng(width: number, height: number, bitDepth: number, colourType: number, rows: Buffer, level?: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([bitDepth, colourType, 0, 0, 0], 8); // deflate, no filter method, no interlace
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level })), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A real PNG (8-bit RGB, a two-colour diagonal gradient with a white disc), so uploads send an image the server must
 * decode and re-encode, not a fixture file.
 */
export function makePng(width: number, height: number): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    rows[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      const inDisc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 4) ** 2;
      const rgb = inDisc ? [255, 255, 255] : [Math.round(7 + t * 9), Math.round(193 - t * 19), Math.round(96 + t * 159)];
      rows.set(rgb, row + 1 + x * 3);
    }
  }
  return encodePng(width, height, 8, 2, rows);
}

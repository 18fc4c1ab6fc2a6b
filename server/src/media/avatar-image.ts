import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { CONTENT_TYPES, type MediaExtension } from './media-storage.ts';

/** The largest upload accepted (2 MiB): a chooseAvatar image is far smaller; a phone photo fits. */
export const MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
/** Stored avatars fit inside this square. */
const AVATAR_MAX_SIDE = 512;
/**
 * Pixels an input may declare. Checked on the header before anything is decoded: a 2 MiB PNG can declare
 * 20000×20000 (400 megapixels, over a gigabyte once decoded). 40 MP is above any phone camera's default photo.
 */
export const MAX_INPUT_PIXELS = 40_000_000;

export type InputFormat = 'jpeg' | 'png' | 'webp';

/** An upload we refuse for what it is (400 `invalid_input`); the message says what was wrong and what to send. */
export class ImageRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRejected';
  }
}

export interface AvatarImage {
  bytes: Buffer;
  ext: Extract<MediaExtension, 'jpg' | 'png'>;
  contentType: string;
  width: number;
  height: number;
  inputFormat: InputFormat;
}

const SEND = 'send a JPEG, PNG or WebP image';

const startsWith = (bytes: Buffer, signature: number[], offset = 0) =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/**
 * What the bytes are, from their magic numbers alone (the file name and the declared type are the client's word
 * and are ignored). Throws ImageRejected, naming what it found, for anything but JPEG, PNG and WebP.
 */
function sniffImageType(bytes: Buffer): InputFormat {
  if (bytes.length === 0) throw new ImageRejected(`The file is empty: ${SEND}.`);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  const other = unsupportedKind(bytes);
  if (other) throw new ImageRejected(`Unsupported image type (${other}): ${SEND}.`);
  throw new ImageRejected(`The file is not an image (${looksLikeText(bytes) ? 'it is text' : 'unknown content'}): ${SEND}.`);
}

function unsupportedKind(bytes: Buffer): string | undefined {
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'GIF';
  if (startsWith(bytes, ascii('ftyp'), 4)) return 'HEIC/AVIF; on iPhone choose "Most Compatible" or convert it to JPEG';
  if (startsWith(bytes, ascii('BM'))) return 'BMP';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  if (startsWith(bytes, ascii('%PDF'))) return 'PDF';
  const head = bytes.subarray(0, 512).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<') && head.includes('<svg'))) return 'SVG';
  return undefined;
}

function looksLikeText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 512);
  return head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || b >= 0x20);
}

/** sharp's words for a broken file, turned into ours. */
function damaged(format: InputFormat, error: unknown): ImageRejected {
  const detail = error instanceof Error ? error.message : String(error);
  const truncated = /premature end|truncated|unexpected end|not enough data|end of (file|stream)|short read/i.test(detail);
  return new ImageRejected(
    truncated
      ? `The ${format.toUpperCase()} image is truncated (the file ends before the image does): send the whole file again.`
      : `The ${format.toUpperCase()} image is damaged and cannot be read: ${SEND} that opens in an image viewer.`,
  );
}

/**
 * Re-encodes an upload as a stored avatar: auto-rotated by its EXIF orientation, resized to fit inside
 * 512×512 (never enlarged), every piece of metadata dropped (EXIF with GPS, XMP, ICC after conversion to sRGB).
 *
 * Output: JPEG (quality 82, mozjpeg) for opaque images, PNG (lossless) when some pixel is transparent. Never WebP:
 * the mini-program's `<image>` shows WebP only with its `webp` attribute set, and older WeChat versions not at all.
 * The same input always gives the same bytes (libvips is deterministic), so identical uploads share one key.
 */
export async function processAvatar(input: Buffer): Promise<AvatarImage> {
  const inputFormat = sniffImageType(input);

  // Header only: no pixel is decoded here, whatever size the header declares.
  let header: Metadata;
  try {
    header = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw damaged(inputFormat, error);
  }
  if (header.format !== inputFormat || !header.width || !header.height) throw damaged(inputFormat, new Error(`decoder saw ${header.format}`));
  const pixels = header.width * header.height;
  if (pixels > MAX_INPUT_PIXELS) {
    throw new ImageRejected(
      `The image has too many pixels (${header.width}×${header.height}, ${(pixels / 1e6).toFixed(0)} megapixels; at most ${MAX_INPUT_PIXELS / 1e6} are accepted): resize it, then send it again.`,
    );
  }

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated', sequentialRead: true })
      .autoOrient()
      .resize(AVATAR_MAX_SIDE, AVATAR_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw damaged(inputFormat, error);
  }

  // Encoded from raw pixels: nothing of the input's metadata can reach the output.
  const { width, height, channels } = decoded.info;
  const transparent = channels === 4 && hasTransparentPixel(decoded.data);
  const pipeline = sharp(decoded.data, { raw: { width, height, channels } });
  const bytes = transparent
    ? await pipeline.png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer()
    : await (channels === 4 ? pipeline.removeAlpha() : pipeline).jpeg({ quality: 82, mozjpeg: true }).toBuffer();
  const ext = transparent ? 'png' : 'jpg';
  return { bytes, ext, contentType: CONTENT_TYPES[ext], width, height, inputFormat };
}

function hasTransparentPixel(rgba: Buffer): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
  return false;
}

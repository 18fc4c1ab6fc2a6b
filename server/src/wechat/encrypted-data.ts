import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * WeChat's "open data" (getWeRunData, share tickets, the old getUserInfo…): AES-128-CBC with the user's session_key
 * as key, PKCS#7 padding, a UTF-8 JSON object carrying `watermark { timestamp, appid }`. Everything is exchanged as
 * standard base64. Decryption is strict: a wrong key almost always surfaces as bad padding, and we must not accept
 * data that merely happened to decrypt.
 */

export type DecryptResult = { ok: true; data: Record<string, unknown> } | { ok: false; problem: string };

export interface DecryptInput {
  /** base64, as code2Session returned it (16 bytes once decoded). */
  sessionKey: string;
  /** base64 ciphertext, as the mini-program received it. */
  encryptedData: string;
  /** base64, 16 bytes once decoded. */
  iv: string;
  /** Our AppID: the watermark must name it. */
  appId: string;
}

const BLOCK = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Never throws: any bad input is `{ ok: false, problem }`, and `problem` never quotes the key or the plaintext. */
export function decryptWeChatData(input: DecryptInput): DecryptResult {
  const key = strictBase64(input.sessionKey);
  if (!key) return fail('session_key is not standard base64');
  if (key.length !== BLOCK) return fail(`session_key is ${key.length} bytes once decoded, expected 16`);
  const iv = strictBase64(input.iv);
  if (!iv) return fail(hintForBase64('iv', input.iv));
  if (iv.length !== BLOCK) return fail(`iv is ${iv.length} bytes once decoded, expected 16`);
  const ciphertext = strictBase64(input.encryptedData);
  if (!ciphertext) return fail(hintForBase64('encryptedData', input.encryptedData));
  if (ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) {
    return fail(`encryptedData is ${ciphertext.length} bytes once decoded, expected a non-zero multiple of 16`);
  }

  let padded: Buffer;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    // We check the padding ourselves: OpenSSL's check is fine, but its failure is an exception without a reason.
    decipher.setAutoPadding(false);
    padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return fail('AES-128-CBC decryption failed');
  }

  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK) return fail('bad PKCS#7 padding (wrong session_key, or the data was altered)');
  for (let i = padded.length - pad; i < padded.length; i++) {
    if (padded[i] !== pad) return fail('bad PKCS#7 padding (wrong session_key, or the data was altered)');
  }

  let text: string;
  try {
    text = utf8.decode(padded.subarray(0, padded.length - pad));
  } catch {
    return fail('the plaintext is not UTF-8 (wrong session_key or iv, or the data was altered)');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return fail('the plaintext is not JSON (wrong session_key or iv, or the data was altered)');
  }
  if (!isRecord(data)) return fail('the plaintext is JSON but not an object');
  const watermark = data.watermark;
  if (!isRecord(watermark) || typeof watermark.appid !== 'string') return fail('the plaintext has no watermark.appid');
  if (watermark.appid !== input.appId) return fail('watermark.appid is not our AppID: the data was issued to another mini-program');
  return { ok: true, data };
}

export interface EncryptInput {
  sessionKey: string;
  appId: string;
  /** The payload; `watermark` is added (and replaces any given). */
  data: Record<string, unknown>;
  /** Unix seconds for `watermark.timestamp`. */
  timestamp: number;
  /** base64 iv; random when absent, as WeChat's. */
  iv?: string;
}

/**
 * Encrypts as WeChat does (for the simulator): compact JSON of `data` followed by `watermark { timestamp, appid }`,
 * AES-128-CBC with PKCS#7 padding. Throws on a session_key or iv that is not 16 bytes of base64: that is our bug.
 */
export function encryptWeChatData(input: EncryptInput): { encryptedData: string; iv: string } {
  const key = strictBase64(input.sessionKey);
  if (!key || key.length !== BLOCK) throw new Error('encryptWeChatData: session_key must be 16 bytes of standard base64');
  const iv = input.iv === undefined ? randomBytes(BLOCK) : strictBase64(input.iv);
  if (!iv || iv.length !== BLOCK) throw new Error('encryptWeChatData: iv must be 16 bytes of standard base64');
  const { watermark: _ignored, ...rest } = input.data;
  const plaintext = JSON.stringify({ ...rest, watermark: { timestamp: input.timestamp, appid: input.appId } });
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { encryptedData: ciphertext.toString('base64'), iv: iv.toString('base64') };
}

/**
 * WeChat's user login-state signature: hex HMAC-SHA256 keyed by the session_key *string* (base64 text, not its
 * bytes) over the request body, "" for a GET such as checksession. WeChat's documented example:
 * hmac_sha256('{"foo":"bar"}', 'o0q0otL8aEzpcZL/FT9WsQ==') = 654571f7….
 */
export function sessionKeySignature(sessionKey: string, payload = ''): string {
  return createHmac('sha256', sessionKey).update(payload, 'utf8').digest('hex');
}

/** Decodes canonical standard base64 only (Buffer.from alone silently skips junk and accepts base64url). */
function strictBase64(value: string): Buffer | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value ? bytes : undefined;
}

function hintForBase64(name: string, value: string): string {
  // The classic integration bug: the '+' of base64 became a space through form or URL decoding.
  if (typeof value === 'string' && value.includes(' ')) return `${name} is not standard base64: it contains spaces (a '+' turned into ' ' by URL decoding?)`;
  return `${name} is not standard base64`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(problem: string): DecryptResult {
  return { ok: false, problem };
}

import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptWeChatData, encryptWeChatData, sessionKeySignature } from '../src/wechat/encrypted-data.ts';
import { parseWeRunData, weRunDate, weRunTimestamp } from '../src/wechat/werun.ts';

// WeChat's own worked example for "开放数据校验与解密", shipped as the demo of its WXBizDataCrypt sample code
// (aes-sample.zip linked from developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html;
// demo.py / demo.js / demo.php all carry these values).
const DOC = {
  appId: 'wx4f4bc4dec97d474b',
  sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==',
  encryptedData:
    'CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZM' +
    'QmRzooG2xrDcvSnxIMXFufNstNGTyaGS' +
    '9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+' +
    '3hVbJSRgv+4lGOETKUQz6OYStslQ142d' +
    'NCuabNPGBzlooOmB231qMM85d2/fV6Ch' +
    'evvXvQP8Hkue1poOFtnEtpyxVLW1zAo6' +
    '/1Xx1COxFvrc2d7UL/lmHInNlxuacJXw' +
    'u0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn' +
    '/Hz7saL8xz+W//FRAUid1OksQaQx4CMs' +
    '8LOddcQhULW4ucetDf96JcR3g0gfRK4P' +
    'C7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB' +
    '6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns' +
    '/8wR2SiRS7MNACwTyrGvt9ts8p12PKFd' +
    'lqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYV' +
    'oKlaRv85IfVunYzO0IKXsyl7JCUjCpoG' +
    '20f0a04COwfneQAGGwd5oa+T8yO5hzuy' +
    'Db/XcxxmK01EpqOyuxINew==',
  iv: 'r7BXXKkLb8qrSNn05n0qiA==',
  decrypted: {
    openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE',
    nickName: 'Band',
    gender: 1,
    language: 'zh_CN',
    city: 'Guangzhou',
    province: 'Guangdong',
    country: 'CN',
    avatarUrl: 'http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0',
    unionId: 'ocMvos6NjeKLIBqg5Mr9QjxrP1FA',
    watermark: { timestamp: 1477314187, appid: 'wx4f4bc4dec97d474b' },
  },
};

const docInput = { sessionKey: DOC.sessionKey, encryptedData: DOC.encryptedData, iv: DOC.iv, appId: DOC.appId };

/** The documented ciphertext with one byte changed (XOR), at `index` from the start (negative: from the end). */
function flipped(index: number, mask = 0x01): string {
  const bytes = Buffer.from(DOC.encryptedData, 'base64');
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ mask;
  return bytes.toString('base64');
}

/** Raw AES-128-CBC without padding: lets a test choose the padding bytes exactly. */
function encryptRaw(key: Buffer, iv: Buffer, plaintext: Buffer): string {
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64');
}

function expectProblem(result: ReturnType<typeof decryptWeChatData>, pattern: RegExp) {
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.problem).toMatch(pattern);
}

describe("WeChat's documented example", () => {
  it('decrypts to the documented JSON', () => {
    expect(decryptWeChatData(docInput)).toEqual({ ok: true, data: DOC.decrypted });
  });

  it('encryptWeChatData reproduces the documented ciphertext byte for byte (the simulator encrypts as WeChat does)', () => {
    const { watermark, ...data } = DOC.decrypted;
    const encrypted = encryptWeChatData({ sessionKey: DOC.sessionKey, appId: watermark.appid, data, timestamp: watermark.timestamp, iv: DOC.iv });
    expect(encrypted).toEqual({ encryptedData: DOC.encryptedData, iv: DOC.iv });
  });
});

describe('strict decryption: every bad input is { ok: false, problem }, never a throw', () => {
  it('a flipped byte in the last block breaks the padding', () => {
    expectProblem(decryptWeChatData({ ...docInput, encryptedData: flipped(-1) }), /padding/);
  });

  it('a flipped byte in the middle garbles the plaintext', () => {
    // Byte 100 garbles block 6 entirely and flips one bit of block 7: the JSON no longer reads.
    expectProblem(decryptWeChatData({ ...docInput, encryptedData: flipped(100, 0x80) }), /UTF-8|JSON/);
  });

  it('a wrong iv garbles the first block', () => {
    const iv = Buffer.from(DOC.iv, 'base64');
    iv[0] = (iv[0] ?? 0) ^ 0x80; // CBC: the first plaintext byte '{' becomes 0xFB, which is not UTF-8
    expectProblem(decryptWeChatData({ ...docInput, iv: iv.toString('base64') }), /UTF-8/);
    expectProblem(decryptWeChatData({ ...docInput, iv: randomBytes(16).toString('base64') }), /UTF-8|JSON|object/);
  });

  it('a wrong session_key (someone else\'s, or an old one) fails', () => {
    for (let i = 0; i < 20; i++) {
      const result = decryptWeChatData({ ...docInput, sessionKey: randomBytes(16).toString('base64') });
      expect(result.ok).toBe(false);
    }
  });

  it('wrong padding: a final byte of 0, of 17, or inconsistent padding bytes', () => {
    const key = Buffer.from(DOC.sessionKey, 'base64');
    const iv = Buffer.from(DOC.iv, 'base64');
    const body = Buffer.from(JSON.stringify({ a: 1, watermark: { appid: DOC.appId, timestamp: 1 } }), 'utf8');
    const padTo16 = (tail: number[]) => {
      const fill = 16 - ((body.length + tail.length) % 16);
      return Buffer.concat([body, Buffer.alloc(fill % 16, 0x20), Buffer.from(tail)]);
    };
    for (const tail of [[0], [17], [3, 4, 3], [2, 2, 2, 2, 1, 2]]) {
      const encryptedData = encryptRaw(key, iv, padTo16(tail));
      expectProblem(decryptWeChatData({ ...docInput, encryptedData }), /padding/);
    }
    // The same plaintext with correct padding decrypts: the failures above are the padding, nothing else.
    const fill = 16 - (body.length % 16);
    const good = encryptRaw(key, iv, Buffer.concat([body, Buffer.alloc(fill, fill)]));
    expect(decryptWeChatData({ ...docInput, encryptedData: good })).toEqual({ ok: true, data: { a: 1, watermark: { appid: DOC.appId, timestamp: 1 } } });
  });

  it('a watermark naming another AppID, or no watermark', () => {
    expectProblem(decryptWeChatData({ ...docInput, appId: 'wxsomeoneelse00000' }), /another mini-program/);
    const key = Buffer.from(DOC.sessionKey, 'base64');
    const iv = randomBytes(16);
    const plain = Buffer.from('{"watermark":{"timestamp":1}}', 'utf8');
    const fill = 16 - (plain.length % 16);
    const encryptedData = encryptRaw(key, iv, Buffer.concat([plain, Buffer.alloc(fill, fill)]));
    expectProblem(decryptWeChatData({ ...docInput, encryptedData, iv: iv.toString('base64') }), /no watermark\.appid/);
  });

  it('JSON that is not an object', () => {
    const key = Buffer.from(DOC.sessionKey, 'base64');
    const iv = Buffer.from(DOC.iv, 'base64');
    for (const text of ['[1,2,3]', 'null', '"text"']) {
      const plain = Buffer.from(text, 'utf8');
      const fill = 16 - (plain.length % 16);
      const encryptedData = encryptRaw(key, iv, Buffer.concat([plain, Buffer.alloc(fill, fill)]));
      expectProblem(decryptWeChatData({ ...docInput, encryptedData }), /not an object/);
    }
  });

  it('input that is not standard base64, or of the wrong length', () => {
    const cases: Array<[Partial<typeof docInput>, RegExp]> = [
      [{ encryptedData: DOC.encryptedData.replace(/\+/g, ' ') }, /contains spaces/],
      [{ encryptedData: 'not base64 at all!' }, /encryptedData is not standard base64/],
      [{ encryptedData: Buffer.from(DOC.encryptedData, 'base64').toString('base64url') }, /encryptedData is not standard base64/],
      [{ encryptedData: '' }, /encryptedData is not standard base64/],
      [{ encryptedData: Buffer.from(DOC.encryptedData, 'base64').subarray(0, 399).toString('base64') }, /multiple of 16/],
      [{ iv: 'r7BXXKkLb8qrSNn05n0qiA' }, /iv is not standard base64/],
      [{ iv: Buffer.alloc(12).toString('base64') }, /iv is 12 bytes/],
      [{ sessionKey: 'tiihtNczf5v6AKRy' }, /session_key is 12 bytes/],
      [{ sessionKey: Buffer.alloc(32).toString('base64') }, /session_key is 32 bytes/],
      [{ sessionKey: 'tiihtNczf5v6AKRyjwEUhQ' }, /session_key is not standard base64/],
    ];
    for (const [override, pattern] of cases) expectProblem(decryptWeChatData({ ...docInput, ...override }), pattern);
  });

  it('values that are not even strings (from untyped JSON) do not throw', () => {
    const junk = [undefined, null, 42, {}, []] as unknown as string[];
    for (const value of junk) {
      expect(decryptWeChatData({ ...docInput, encryptedData: value as string }).ok).toBe(false);
      expect(decryptWeChatData({ ...docInput, iv: value as string }).ok).toBe(false);
      expect(decryptWeChatData({ ...docInput, sessionKey: value as string }).ok).toBe(false);
    }
  });

  it('a problem never quotes the session_key or the plaintext', () => {
    const results = [
      decryptWeChatData({ ...docInput, appId: 'wxother' }),
      decryptWeChatData({ ...docInput, encryptedData: flipped(-1) }),
      decryptWeChatData({ ...docInput, iv: randomBytes(16).toString('base64') }),
    ];
    for (const result of results) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.problem).not.toContain(DOC.sessionKey);
        expect(result.problem).not.toContain('oGZUI0eg');
      }
    }
  });
});

describe('round trips', () => {
  it('encrypt then decrypt gives the data back with the watermark, with a fresh random iv each time', () => {
    const sessionKey = randomBytes(16).toString('base64');
    const data = { stepInfoList: [{ timestamp: 1764518400, step: 8000 }], text: '微信运动 ✓' };
    const first = encryptWeChatData({ sessionKey, appId: 'wxapp', data, timestamp: 1_700_000_000 });
    const second = encryptWeChatData({ sessionKey, appId: 'wxapp', data, timestamp: 1_700_000_000 });
    expect(first.iv).not.toBe(second.iv);
    expect(Buffer.from(first.iv, 'base64')).toHaveLength(16);
    expect(decryptWeChatData({ sessionKey, appId: 'wxapp', ...first })).toEqual({ ok: true, data: { ...data, watermark: { timestamp: 1_700_000_000, appid: 'wxapp' } } });
  });

  it('plaintexts of every length round-trip (padding of 1 to 16 bytes)', () => {
    const sessionKey = randomBytes(16).toString('base64');
    for (let n = 0; n < 40; n++) {
      const data = { s: 'x'.repeat(n) };
      const encrypted = encryptWeChatData({ sessionKey, appId: 'wxapp', data, timestamp: 1 });
      const result = decryptWeChatData({ sessionKey, appId: 'wxapp', ...encrypted });
      expect(result.ok && result.data.s).toBe(data.s);
    }
  });

  it('encryptWeChatData refuses a session_key that is not 16 bytes of base64 (our bug, so it throws)', () => {
    expect(() => encryptWeChatData({ sessionKey: 'short', appId: 'wxapp', data: {}, timestamp: 1 })).toThrow(/16 bytes/);
  });
});

describe('session_key signature (checksession)', () => {
  it("matches WeChat's documented example: HMAC-SHA256 keyed by the session_key string", () => {
    // developers.weixin.qq.com, "用户登录态签名": hmac_sha256('{"foo":"bar"}', 'o0q0otL8aEzpcZL/FT9WsQ==')
    expect(sessionKeySignature('o0q0otL8aEzpcZL/FT9WsQ==', '{"foo":"bar"}')).toBe('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
  });

  it('signs the empty string for a GET, and differs per session_key', () => {
    const a = sessionKeySignature(DOC.sessionKey);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).toBe(sessionKeySignature(DOC.sessionKey, ''));
    expect(sessionKeySignature('o0q0otL8aEzpcZL/FT9WsQ==')).not.toBe(a);
  });
});

describe('WeRun dates (China time, UTC+8)', () => {
  it("a day's timestamp is its 00:00 in China, and maps back to the same date", () => {
    expect(weRunTimestamp('2026-12-01')).toBe(Date.parse('2026-12-01T00:00:00+08:00') / 1000);
    expect(weRunDate(Date.parse('2026-12-01T00:00:00+08:00') / 1000)).toBe('2026-12-01');
    expect(weRunDate(Date.parse('2026-12-01T23:59:59+08:00') / 1000)).toBe('2026-12-01');
    expect(weRunDate(Date.parse('2026-11-30T23:59:59+08:00') / 1000)).toBe('2026-11-30');
  });

  it('refuses what is not a calendar date', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '2026-1-01', '01/12/2026', '', '2026-12-01T00:00']) expect(weRunTimestamp(bad)).toBeUndefined();
    expect(weRunTimestamp('2028-02-29')).toBeTypeOf('number');
  });

  it("parses WeChat's stepInfoList in date order, and rejects a malformed one", () => {
    const t = (date: string) => weRunTimestamp(date) as number;
    expect(parseWeRunData({ stepInfoList: [{ timestamp: t('2026-12-02'), step: 5 }, { timestamp: t('2026-12-01'), step: 8000 }] })).toEqual({
      ok: true,
      days: [
        { date: '2026-12-01', steps: 8000 },
        { date: '2026-12-02', steps: 5 },
      ],
    });
    expect(parseWeRunData({}).ok).toBe(false);
    expect(parseWeRunData({ stepInfoList: [{ timestamp: 'x', step: 1 }] }).ok).toBe(false);
    expect(parseWeRunData({ stepInfoList: [{ timestamp: 1, step: -1 }] }).ok).toBe(false);
  });
});

export type NicknameCheck = { ok: true; nickname: string } | { ok: false; message: string };

/**
 * The shared `nickname` rule (shared/src/schemas.ts: trimmed, 1–32 characters), checked by hand: importing the
 * zod schema would put zod in the mini-program (+84 KiB raw, +24 KiB gzip, measured). A test keeps the two in
 * agreement, messages included; the server validates again anyway.
 */
export function checkNickname(value: string): NicknameCheck {
  const nickname = value.trim();
  const length = Array.from(nickname).length; // code points, as zod counts them (an emoji is one)
  if (length < 1) return { ok: false, message: 'nickname is empty: send 1 to 32 characters, or leave it out' };
  if (length > 32) return { ok: false, message: 'nickname is longer than 32 characters: shorten it' };
  return { ok: true, nickname };
}

/**
 * WeRun (wx.getWeRunData) decrypts to `{ stepInfoList: [{ timestamp, step }], watermark }`, one entry per day,
 * `timestamp` being that day's 00:00 in China time (UTC+8, no daylight saving) in Unix seconds.
 */

const CHINA_OFFSET_SECONDS = 8 * 3600;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `2026-12-01` → Unix seconds of 2026-12-01T00:00+08:00; undefined for anything that is not a real calendar date. */
export function weRunTimestamp(date: string): number | undefined {
  const match = DATE.exec(date);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2026-02-30 over to March: a real date survives the round trip.
  if (new Date(ms).toISOString().slice(0, 10) !== date) return undefined;
  return ms / 1000 - CHINA_OFFSET_SECONDS;
}

/** Unix seconds → the China-time calendar date (`YYYY-MM-DD`) they fall on. */
export function weRunDate(timestamp: number): string {
  return new Date((timestamp + CHINA_OFFSET_SECONDS) * 1000).toISOString().slice(0, 10);
}

export type WeRunParse = { ok: true; days: Array<{ date: string; steps: number }> } | { ok: false; problem: string };

/** Reads decrypted WeRun data: days in ascending order, the last entry winning for a repeated date. */
export function parseWeRunData(data: Record<string, unknown>): WeRunParse {
  const list = data.stepInfoList;
  if (!Array.isArray(list)) return { ok: false, problem: 'no stepInfoList array in the WeRun data' };
  const byDate = new Map<string, number>();
  for (const entry of list as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return { ok: false, problem: 'a stepInfoList entry is not an object' };
    const { timestamp, step } = entry as Record<string, unknown>;
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
      return { ok: false, problem: 'a stepInfoList entry has no valid timestamp' };
    }
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) return { ok: false, problem: 'a stepInfoList entry has no valid step count' };
    byDate.set(weRunDate(timestamp), step);
  }
  const days = [...byDate].map(([date, steps]) => ({ date, steps })).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  return { ok: true, days };
}

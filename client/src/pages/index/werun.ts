import type { WeRunDay } from '@wxkit/shared';

/** 12345 → "12,345" (the mini-program's JS engine may not group digits in toLocaleString). */
export function formatSteps(steps: number): string {
  return String(Math.round(steps)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "2026-12-04" → "Fri" (the date is a calendar day, read without a time zone). */
function weekdayOf(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return weekdays[new Date(Date.UTC(y!, m! - 1, d!)).getUTCDay()]!;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2026-12-01" → "Dec 1". */
export function formatDay(date: string): string {
  const [, m, d] = date.split('-').map(Number);
  return `${months[m! - 1]} ${d}`;
}

interface WeRunBar {
  date: string;
  label: string;
  steps: number;
  /** 0–100: the bar's height against the week's best day. */
  percent: number;
}

/** The last `count` days stored, oldest first, with bar heights for the chart. */
export function weRunBars(days: WeRunDay[], count = 7): WeRunBar[] {
  const recent = [...days].sort((a, b) => (a.date < b.date ? 1 : -1)).slice(0, count).reverse();
  const best = Math.max(1, ...recent.map((d) => d.steps));
  return recent.map((d) => ({ date: d.date, label: weekdayOf(d.date), steps: d.steps, percent: Math.max(4, Math.round((d.steps / best) * 100)) }));
}

// Summarizes a V8 .cpuprofile (from `BENCH_CPU_PROF=1 npm run bench`): self time by function and by package.
// Usage: node bench/profile-top.mjs bench/results/profiles/<server>-…/CPU….cpuprofile [top=25] [--last=<seconds>]
// --last keeps only the profile's last seconds: with one scenario (BENCH_SCENARIOS=getProfile), the measured run,
// without start-up, fixtures and warm-up.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const lastArg = args.find((a) => a.startsWith('--last='));
const [file, topArg] = args.filter((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write('usage: node bench/profile-top.mjs <file.cpuprofile> [top] [--last=<seconds>]\n');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// Sample times: startTime plus the running sum of timeDeltas (µs).
const times = [];
for (let i = 0, t = profile.startTime; i < profile.samples.length; i++) times.push((t += profile.timeDeltas[i]));
const from = lastArg ? (times.at(-1) ?? 0) - Number(lastArg.slice('--last='.length)) * 1e6 : -Infinity;
const selfTicks = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  if (times[i] < from) return;
  selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
  total++;
});

function packageOf(url) {
  if (!url) return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('/server/dist/')) return 'our code';
  if (url.includes('/bench/')) return 'bench code';
  return url.startsWith('file:') ? 'app' : 'node core';
}

const byFunction = new Map();
const byPackage = new Map();
for (const [id, ticks] of selfTicks) {
  const node = byId.get(id);
  const frame = node.callFrame;
  const name = frame.functionName || '(anonymous)';
  const where = frame.url ? `${frame.url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\//, '')}:${frame.lineNumber + 1}` : '';
  const key = `${name} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + ticks);
  const pkg = name === '(garbage collector)' ? '(GC)' : name === '(idle)' ? '(idle)' : name === '(program)' ? '(program)' : packageOf(frame.url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ticks);
}

const idle = byPackage.get('(idle)') ?? 0;
const busy = total - idle;
const pct = (n) => `${((n / busy) * 100).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${total} samples, ${busy} busy (percentages of busy time)\n\nby package:\n`);
for (const [pkg, ticks] of [...byPackage].filter(([p]) => p !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  process.stdout.write(`  ${pct(ticks)}  ${pkg}\n`);
}
process.stdout.write(`\ntop ${top} functions by self time:\n`);
for (const [key, ticks] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`  ${pct(ticks)}  ${key}\n`);
}

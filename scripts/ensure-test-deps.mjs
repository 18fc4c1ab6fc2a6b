// Before `npm test`: the system programs the tests drive, from Debian's packages: Chromium (the H5 browser test),
// PostgreSQL's server binaries (the PostgreSQL pass starts throwaway clusters) and CJK fonts (the screenshots).
// Installs the missing ones with apt-get when it can (root, or sudo without a password); otherwise says what to run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const hasPostgres = () =>
  Boolean(process.env.PG_BIN) ||
  (existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)));
const hasChromium = () => Boolean(process.env.CHROMIUM_PATH) || existsSync('/usr/bin/chromium') || existsSync('/usr/bin/chromium-browser');
const hasCjkFonts = () => existsSync('/usr/share/fonts/opentype/noto') || existsSync('/usr/share/fonts/truetype/noto');

const missing = [
  ...(hasChromium() ? [] : ['chromium']),
  ...(hasCjkFonts() ? [] : ['fonts-noto-cjk']),
  ...(hasPostgres() ? [] : ['postgresql']),
];
if (missing.length === 0) process.exit(0);

const command = `apt-get install -y ${missing.join(' ')}`;
const root = process.getuid?.() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
if (!existsSync('/usr/bin/apt-get') || (!root && !sudo)) {
  process.stderr.write(`The tests need ${missing.join(', ')} (Debian packages), and this script cannot install them here.\nInstall them (e.g. \`sudo ${command}\`), or point CHROMIUM_PATH / PG_BIN at existing binaries, then run npm test again.\n`);
  process.exit(1);
}
const run = (args) => execFileSync(root ? args[0] : 'sudo', root ? args.slice(1) : args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
process.stderr.write(`== installing ${missing.join(', ')} for the tests (${command}); this happens once\n`);
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', ...missing]);
if (missing.includes('postgresql')) {
  // The package may start its own cluster on 5432; the tests never use it (they start their own on free ports).
  spawnSync(root ? 'service' : 'sudo', root ? ['postgresql', 'stop'] : ['service', 'postgresql', 'stop'], { stdio: 'ignore' });
}
process.stderr.write('== test dependencies installed\n');

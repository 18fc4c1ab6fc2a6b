// `npm run bench:client`: what the client costs on the wire and in the package.
// 1. Requests: the app's real API client (tRPC client + auth link, only Taro's platform faked) against a real server,
//    for a cold start, a relaunch, the steady state and an expiry / revocation with 10 calls in flight
//    (bench/client/request-figures.bench.ts, run through vitest for its module mocking).
// 2. Bundle: the weapp build of four projects that differ only in src/: an empty Taro page; the same page plus our
//    API client (tRPC client, auth link, schemas) making one call; the empty page plus the WeUI stylesheet the app
//    uses (src/styles/weui.less) and WeUI-classed markup; the real app. Sizes of the .js and .wxss files, raw and
//    gzip; "what our client code adds" and "what WeUI adds" are the second and third minus the first.
// Prints a table and writes bench/results/client-latest.json (and a timestamped copy).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../..', import.meta.url));
const clientDir = join(root, 'client');
const resultsDir = join(root, 'bench/results');
const buildRoot = join(resultsDir, 'client-build');
const log = (line) => process.stderr.write(`${line}\n`);

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

// ---------- 1. requests ----------

function requestFigures() {
  log('client requests: the real API client against a real server (vitest, fake Taro platform)…');
  const out = join(resultsDir, 'client-requests.json');
  rmSync(out, { force: true });
  run(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'bench/client/vitest.config.mts', '--reporter=dot'], {
    cwd: root,
    env: { ...process.env, CLIENT_FIGURES_OUT: out },
    // vitest's own output goes to stderr: stdout is the report.
    stdio: ['ignore', 2, 2],
  });
  return JSON.parse(readFileSync(out, 'utf8'));
}

// ---------- 2. bundle ----------

const emptyApp = `import type { PropsWithChildren } from 'react';
import './app.css';

function App({ children }: PropsWithChildren) {
  return children;
}

export default App;
`;
const emptyPage = `import { Text, View } from '@tarojs/components';

export default function Index() {
  return (
    <View>
      <Text>hello</Text>
    </View>
  );
}
`;
const apiApp = `import { useDidShow } from '@tarojs/taro';
import type { PropsWithChildren } from 'react';
import { api } from './api/index.ts';
import './app.css';

function App({ children }: PropsWithChildren) {
  useDidShow(() => api.session.appShown());
  return children;
}

export default App;
`;
const apiPage = `import { Text, View } from '@tarojs/components';
import { useEffect, useState } from 'react';
import { api, reasonOf } from '../../api/index.ts';

export default function Index() {
  const [text, setText] = useState('hello');
  useEffect(() => {
    api.client.getProfile.query().then(
      (profile) => setText(profile.nickname ?? profile.id),
      (error: unknown) => setText(String(reasonOf(error))),
    );
  }, []);
  return (
    <View>
      <Text>{text}</Text>
    </View>
  );
}
`;

const weuiApp = `import type { PropsWithChildren } from 'react';
import './styles/weui.less';
import './app.css';

function App({ children }: PropsWithChildren) {
  return children;
}

export default App;
`;
const weuiPage = `import { Button, Text, View } from '@tarojs/components';

export default function Index() {
  return (
    <View className='weui-cells'>
      <View className='weui-cell weui-cell_access'>
        <View className='weui-cell__bd'><Text>hello</Text></View>
        <View className='weui-cell__ft weui-cell__ft_in-access' />
      </View>
      <Button className='weui-btn weui-btn_primary'>OK</Button>
    </View>
  );
}
`;
/** One page only: the copied src/ has every page of the app, and Taro builds those app.config.ts lists. */
const onePageConfig = `export default defineAppConfig({
  pages: ['pages/index/index'],
  window: { navigationBarTitleText: 'bench' },
});
`;

function files(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

function measureBundle(distDir) {
  const all = files(distDir).filter((f) => !f.endsWith('.LICENSE.txt') && !f.endsWith('.map'));
  const js = all.filter((f) => f.endsWith('.js'));
  const wxss = all.filter((f) => f.endsWith('.wxss'));
  const sum = (list, fn) => list.reduce((n, f) => n + fn(readFileSync(f)), 0);
  return {
    jsBytes: sum(js, (b) => b.length),
    jsGzipBytes: sum(js, (b) => gzipSync(b, { level: 9 }).length),
    wxssBytes: sum(wxss, (b) => b.length),
    wxssGzipBytes: sum(wxss, (b) => gzipSync(b, { level: 9 }).length),
    allBytes: sum(all, (b) => b.length),
    jsFiles: Object.fromEntries(js.map((f) => [relative(distDir, f), readFileSync(f).length])),
  };
}

/** A copy of the client project with its own src/app.tsx and page, built for weapp with Taro. */
function buildVariant(name, app, page) {
  const dir = join(buildRoot, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of ['config', 'src', 'types', 'babel.config.js', 'package.json', 'project.config.json', 'tsconfig.json']) {
    cpSync(join(clientDir, entry), join(dir, entry), { recursive: true });
  }
  for (const entry of readdirSync(clientDir).filter((f) => f.startsWith('.env'))) cpSync(join(clientDir, entry), join(dir, entry));
  symlinkSync(join(clientDir, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'src/app.tsx'), app);
  writeFileSync(join(dir, 'src/app.config.ts'), onePageConfig);
  writeFileSync(join(dir, 'src/pages/index/index.tsx'), page);
  log(`client bundle: building "${name}" with Taro (about a minute)…`);
  const started = Date.now();
  run(join(root, 'node_modules/.bin/taro'), ['build', '--type', 'weapp', '--no-check'], { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } });
  const distDir = join(dir, 'dist/weapp');
  if (!existsSync(join(distDir, 'app.js'))) throw new Error(`the "${name}" build wrote no dist/weapp/app.js: read Taro's output above`);
  log(`  built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return measureBundle(distDir);
}

function bundleFigures() {
  mkdirSync(buildRoot, { recursive: true });
  // The client config includes ../../shared/src (relative to config/): give the copies the same neighbour.
  const sharedLink = join(buildRoot, 'shared');
  if (!existsSync(sharedLink)) symlinkSync(join(root, 'shared'), sharedLink);
  const empty = buildVariant('empty-page', emptyApp, emptyPage);
  const withApi = buildVariant('page-with-api', apiApp, apiPage);
  const withWeui = buildVariant('page-with-weui', weuiApp, weuiPage);
  log('client bundle: the real app (client/dist/weapp, built when stale)…');
  run(process.execPath, [join(clientDir, 'scripts/ensure-build.mjs'), 'weapp'], { cwd: root });
  const app = measureBundle(join(clientDir, 'dist/weapp'));
  const delta = (a, b) => Object.fromEntries(['jsBytes', 'jsGzipBytes', 'wxssBytes', 'wxssGzipBytes'].map((k) => [k, a[k] - b[k]]));
  return { empty, withApi, withWeui, app, added: delta(withApi, empty), weuiAdded: delta(withWeui, empty) };
}

// ---------- report ----------

/** `login → batch of 10 (getProfile+checkSession) → …`, repeated requests collapsed to `getProfile ×10`. */
function describeRequests(requests) {
  const labels = requests.map(({ path }) => {
    const names = path.split(',');
    return names.length === 1 ? path : `batch of ${names.length} (${[...new Set(names)].join('+')})`;
  });
  const groups = [];
  for (const label of labels) {
    const last = groups.at(-1);
    if (last?.label === label) last.count++;
    else groups.push({ label, count: 1 });
  }
  return groups.map((g) => (g.count > 1 ? `${g.label} ×${g.count}` : g.label)).join(' → ');
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

function main() {
  mkdirSync(resultsDir, { recursive: true });
  const startedAt = new Date();
  const requests = requestFigures();
  const bundle = process.env.BENCH_CLIENT_SKIP_BUNDLE === '1' ? undefined : bundleFigures();

  const lines = [
    '',
    `wxkit client bench — ${startedAt.toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    '',
    'requests (the app\'s API client: tRPC + auth link, real server; Taro platform faked):',
    '| situation | calls | HTTP requests | what went out | Taro.login | Taro.checkSession | ms |',
    '|:--|--:|--:|:--|--:|--:|--:|',
    ...requests.map((f) => `| ${f.situation} | ${f.calls} | ${f.httpRequests} | ${describeRequests(f.trpcRequests)} | ${f.taroLogin} | ${f.taroCheckSession} | ${f.ms} |`),
    '',
  ];
  if (bundle) {
    lines.push(
      'weapp bundle (.js and .wxss files; gzip -9 per file, summed):',
      '| build | JS | JS gzip | WXSS | WXSS gzip |',
      '|:--|--:|--:|--:|--:|',
      ...[
        ['empty Taro page', bundle.empty],
        ['empty page + our API client (tRPC client, auth link, schemas), one call', bundle.withApi],
        ['**what our client code adds**', bundle.added, true],
        ['empty page + WeUI (src/styles/weui.less) and WeUI-classed markup', bundle.withWeui],
        ['**what WeUI adds**', bundle.weuiAdded, true],
        ['the real app (client/dist/weapp)', bundle.app],
      ].map(([label, m, bold]) => {
        const cell = (n) => (bold ? `**${kb(n)}**` : kb(n));
        return `| ${label} | ${cell(m.jsBytes)} | ${cell(m.jsGzipBytes)} | ${cell(m.wxssBytes)} | ${cell(m.wxssGzipBytes)} |`;
      }),
      '',
    );
  }
  const text = lines.join('\n');
  process.stdout.write(text);
  const json = { startedAt: startedAt.toISOString(), node: process.version, requests, bundle };
  const file = join(resultsDir, `client-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2));
  writeFileSync(join(resultsDir, 'client-latest.json'), JSON.stringify(json, null, 2));
  writeFileSync(join(resultsDir, 'client-latest.txt'), text);
  process.stdout.write(`results: ${file} (and bench/results/client-latest.json, client-latest.txt)\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`client bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

import { readFileSync } from 'node:fs';
import { main } from './main.ts';

// The only place the CLI reads its process: everything below takes these as arguments.
const code = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  // npm runs scripts from the package root; INIT_CWD is where the tester typed the command.
  cwd: process.env.INIT_CWD ?? process.cwd(),
  readStdin: () => readFileSync(0, 'utf8'),
});
// Exit as soon as the output is flushed: fetch's idle keep-alive socket would otherwise hold the process ~250 ms.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

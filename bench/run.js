#!/usr/bin/env node
// `npm run bench [-- --quick ...]`: builds the daemon (the benchmarks start the real
// bin/couic.js from dist/), then runs bench/run-all.ts under tsx with the arguments.
// Plain JS so it needs no loader itself. `--no-build` skips the build.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const noBuild = args.includes('--no-build');
const passed = args.filter((a) => a !== '--no-build');

if (!noBuild) {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    process.stderr.write('bench: build failed (npx tsc -p tsconfig.json)\n');
    process.exit(build.status ?? 1);
  }
}

const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./run-all.ts', import.meta.url)), ...passed], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);

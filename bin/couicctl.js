#!/usr/bin/env node
// couicctl: command-line client of the couic daemon. Runs the one-file bundle
// dist/cli/couicctl.cjs (scripts/bundle-cli.js, part of `npm run build`) with a V8
// code cache beside it, so a command does not spend its start-up compiling: Node 20
// has no module.enableCompileCache (22.1+), hence vm.Script's cachedData by hand.
// Without the bundle, or with one older than tsc's output (`npx tsc` alone after an
// edit), it imports dist/cli/main.js instead, so a stale bundle never runs.
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('../dist/cli/couicctl.cjs', import.meta.url));

function runBundle() {
  const cachePath = `${bundle}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cachePath);
  } catch {
    cachedData = undefined;
  }
  const source = readFileSync(bundle, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cachedData !== undefined ? { cachedData } : {}),
  });
  // COUICCTL_SEED_CODE_CACHE=1: scripts/bundle-cli.js's seed run (always writes).
  if (cachedData === undefined || script.cachedDataRejected === true || process.env.COUICCTL_SEED_CODE_CACHE === '1') {
    // No cache yet, or one from another Node/V8: write one once this run has compiled
    // what it needed (best effort: an installed package may be read-only to this user).
    process.once('exit', () => {
      try {
        const temp = `${cachePath}.${process.pid}`;
        writeFileSync(temp, script.createCachedData());
        renameSync(temp, cachePath);
      } catch {
        // Slower start next time, nothing else.
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

const mtime = (url) => statSync(url, { throwIfNoEntry: false })?.mtimeMs;
const bundleTime = mtime(bundle);
const compiledTime = mtime(new URL('../dist/cli/main.js', import.meta.url));
if (bundleTime !== undefined && (compiledTime === undefined || compiledTime <= bundleTime)) runBundle();
else await import('../dist/cli/main.js');

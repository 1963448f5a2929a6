#!/usr/bin/env node
// Bundles couicctl (dist/cli/main.js and everything it imports, node_modules included)
// into one CommonJS file, dist/cli/couicctl.cjs, and seeds its V8 code cache. Why:
// resolving and compiling ~300 ES modules was most of a command's start-up (see
// bench/RESULTS.md, cli-start); bin/couicctl.js runs the bundle through vm.Script with
// the cache. Runs after tsc in `npm run build`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outfile = join(root, 'dist', 'cli', 'couicctl.cjs');

/**
 * string-width (yargs' help layout, through cliui and wrap-ansi) builds an
 * Intl.Segmenter and large Unicode-property regexes when it is loaded: that was the
 * biggest single item of a command's start-up, though only --help output needs it.
 * Every import of it gets a stand-in that loads the real module on the first call.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(plugin) {
    plugin.onResolve({ filter: /^string-width$/ }, async (args) => {
      // plugin.resolve runs this hook again: the marker lets that inner call through.
      if (args.pluginData?.lazyStringWidthInner === true) return undefined;
      const real = await plugin.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { lazyStringWidthInner: true },
      });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-string-width' };
    });
    plugin.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents: `let real;\nexport default function stringWidth(text, options) {\n  real ??= require(${JSON.stringify(args.path)}).default;\n  return real(text, options);\n}\n`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * yargs renders the whole help text after starting every command handler, to keep it
 * for a later showHelp() from that handler (yargs/build/lib/command.js). couicctl's
 * handlers never call showHelp (errors go through app.ts's fail handler), so the
 * bundle drops that call: it loaded the layout modules and laid out the help on
 * every run. --help itself is unaffected.
 */
const CACHE_HELP_CALL = 'yargs.getInternalMethods().getUsageInstance().cacheHelpMessage();';
const noHelpCaching = {
  name: 'no-help-caching',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(CACHE_HELP_CALL)) {
        return { contents: text, loader: 'js', warnings: [{ text: 'yargs changed: its help caching call was not found (start-up is slower, nothing else)' }] };
      }
      return { contents: text.replace(CACHE_HELP_CALL, '/* help caching dropped by scripts/bundle-cli.js */'), loader: 'js' };
    });
  },
};

await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // main.ts finds package.json from import.meta.url; in the bundle that is the bundle's URL
  // (dist/cli/, the same depth as dist/cli/main.js).
  define: { 'import.meta.url': '__couicctlBundleUrl' },
  banner: { js: "const __couicctlBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: false,
  legalComments: 'none',
  plugins: [lazyStringWidth, noHelpCaching],
  logLevel: 'warning',
  // src/generated's XdpAction has two names for 0 (an alias): its fromJSON repeats `case 0`.
  logOverride: { 'duplicate-case': 'silent' },
});

// The cache holds the functions compiled by the run that wrote it, so the seed run
// goes the way of a real command: parse `drop add`, load gRPC, call a daemon (absent
// here: the call fails with UNAVAILABLE, which is expected).
const seedDir = mkdtempSync(join(tmpdir(), 'couicctl-seed-'));
try {
  const seedConfig = join(seedDir, 'couicctl.toml');
  writeFileSync(seedConfig, `mode = "local"\nsocket = ${JSON.stringify(join(seedDir, 'absent.sock'))}\ntoken = "seed"\n`);
  const seed = spawnSync(process.execPath, [join(root, 'bin', 'couicctl.js'), '-c', seedConfig, 'drop', 'add', '192.0.2.1/32', '-e', '1m'], {
    env: { ...process.env, COUICCTL_SEED_CODE_CACHE: '1' },
    encoding: 'utf8',
  });
  if (seed.status !== 1 || !/UNAVAILABLE/.test(seed.stderr)) {
    process.stderr.write(`bundle-cli: the seed run of the new bundle did not fail as expected (status ${seed.status}): ${seed.stderr}\n`);
    process.exit(1);
  }
} finally {
  rmSync(seedDir, { recursive: true, force: true });
}

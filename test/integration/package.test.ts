// couic as operators install it: `npm pack` (its prepack builds dist/, the CLI bundle,
// man pages and completions) in a copy of the checkout, `npm install -g` of the tarball
// into a temporary prefix, then the installed `couic` and `couicctl` run from there
// against a daemon on a temp config. Also: the systemd unit passes systemd-analyze.
import test from 'ava';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, waitExit, waitHealthy } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const SKIP_COPY = new Set(['node_modules', 'dist', '.dev', 'build', '.git', '.scratch', 'tmp']);

/** The checkout without build output (the pack must build it itself), node_modules linked. */
async function copyCheckout(to: string): Promise<void> {
  await cp(REPO_ROOT, to, {
    recursive: true,
    filter: (source) => {
      const name = source.slice(REPO_ROOT.length).split('/')[0] ?? '';
      return !SKIP_COPY.has(name) || source === REPO_ROOT || source === `${REPO_ROOT}/`;
    },
  });
  await symlink(join(REPO_ROOT, 'node_modules'), join(to, 'node_modules'));
}

test('npm pack + npm install -g: couic and couicctl run from the install; no tests shipped; man pages installed', async (t) => {
  t.timeout(10 * 60_000, 'pack builds everything, install fetches the runtime dependencies');
  const dir = await makeTempDir(t, 'couic-pkg-');
  const checkout = join(dir, 'src');
  await copyCheckout(checkout);
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: checkout, maxBuffer: 64 * 1024 * 1024 });
  // The prepack's own output comes first on stdout; npm's JSON report is the last part.
  const report = packed.stdout.slice(packed.stdout.search(/^\[$/m));
  const [info] = JSON.parse(report) as { filename: string; files: { path: string }[] }[];
  if (info === undefined) throw new Error(`npm pack said: ${packed.stdout}`);
  const files = info.files.map((f) => f.path);
  for (const wanted of ['bin/couic.js', 'bin/couicctl.js', 'dist/daemon/main.js', 'dist/cli/couicctl.cjs', 'dist/man/couicctl.8', 'dist/man/couic.toml.5', 'dist/completion/couicctl.bash', 'src/generated/couic.protoset', 'packaging/systemd/couic.service', 'packaging/examples/couic.toml']) {
    t.true(files.includes(wanted), `${wanted} in the package`);
  }
  // The daemon loads its XDP program from the package (build/bpf/, next to dist/); the
  // prepack builds it wherever clang and libbpf-dev are there (CI installs them).
  const canBuildBpf = await run('clang', ['--version']).then(
    () => true,
    () => false,
  );
  if (canBuildBpf) t.true(files.includes('build/bpf/couic.bpf.o'), 'XDP object in the package');
  else t.log('clang missing: the package has no XDP object (userspace data plane only)');
  t.deepEqual(files.filter((f) => f.startsWith('test/') || f.startsWith('bench/') || f.endsWith('.map') || f.endsWith('.ts')), [], 'no tests, benchmarks, sources or source maps');

  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(dir, info.filename)], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  const couic = join(prefix, 'bin', 'couic');
  const couicctl = join(prefix, 'bin', 'couicctl');
  t.regex((await run(couicctl, ['--help'], { cwd: dir })).stdout, /couicctl drop/);
  t.regex((await run(couic, ['--help'], { cwd: dir })).stdout, /couic \[-c FILE\]/);
  t.true((await readdir(join(prefix, 'share', 'man', 'man8'))).includes('couicctl.8'));
  t.true((await readdir(join(prefix, 'share', 'man', 'man5'))).includes('couic.toml.5'));

  // A daemon from the install on a temp config, and a rule through the installed CLI.
  const socket = join(dir, 'couic.sock');
  const work = join(dir, 'work');
  await writeFile(join(dir, 'couic.toml'), `ifaces = []\nworking_dir = ${JSON.stringify(work)}\n[server]\nsocket = ${JSON.stringify(socket)}\n`);
  const daemon: ChildProcess = spawn(couic, ['-c', join(dir, 'couic.toml')], { cwd: dir, stdio: 'ignore' });
  t.teardown(() => {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  });
  await waitHealthy(socket, daemon, 60_000);
  await writeFile(join(dir, 'couicctl.toml'), `socket = ${JSON.stringify(socket)}\nclient_file = ${JSON.stringify(join(work, 'rbac', 'clients', 'couicctl.toml'))}\n`);
  const added = await run(couicctl, ['-c', join(dir, 'couicctl.toml'), 'drop', 'add', '192.0.2.7/32', '-e', '1m'], { cwd: dir });
  t.regex(added.stdout, /│ drop +┆ 192\.0\.2\.7\/32 ┆/);
  daemon.kill('SIGTERM');
  t.deepEqual(await waitExit(daemon, 30_000), { code: 0, signal: null });
});

test('the systemd unit passes systemd-analyze verify without a warning', async (t) => {
  const analyze = await run('systemd-analyze', ['--version']).catch(() => undefined);
  if (analyze === undefined) {
    t.log('systemd-analyze not installed (Debian package systemd)');
    t.pass();
    return;
  }
  const dir = await makeTempDir(t, 'couic-unit-');
  // verify checks that ExecStart exists: point it at this checkout's daemon.
  const unit = (await readFile(join(REPO_ROOT, 'packaging', 'systemd', 'couic.service'), 'utf8')).replace('ExecStart=/usr/local/bin/couic', `ExecStart=${join(REPO_ROOT, 'bin', 'couic.js')}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'couic.service'), unit);
  const result = await run('systemd-analyze', ['verify', '--man=no', join(dir, 'couic.service')]).then(
    (r) => ({ code: 0, output: r.stdout + r.stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
  );
  t.is(result.code, 0, result.output);
  t.is(result.output.trim(), '', 'no warning (an unknown or misspelt directive is only a warning)');
  t.regex(unit, /^ProtectSystem=strict$/m);
  t.regex(unit, /^StateDirectory=couic$/m);
  t.regex(unit, /^RuntimeDirectory=couic$/m);
  t.regex(unit, /^CapabilityBoundingSet=CAP_BPF /m);
});

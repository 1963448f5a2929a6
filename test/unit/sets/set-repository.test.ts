import test from 'ava';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../../../src/domain/errors.js';
import type { Policy } from '../../../src/domain/policy.js';
import { MAX_SET_FILE_BYTES } from '../../../src/sets/set-file.js';
import { SetRepository, setsDirOf, type WarnLogger } from '../../../src/sets/set-repository.js';

interface Warning {
  fields: Record<string, unknown>;
  message: string;
}

function capture(): { logger: WarnLogger; warnings: Warning[] } {
  const warnings: Warning[] = [];
  return { logger: { warn: (fields, message) => warnings.push({ fields, message }) }, warnings };
}

async function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const work = await mkdtemp(join(tmpdir(), 'couic-sets-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const dir = setsDirOf(work);
  const { logger, warnings } = capture();
  const repo = await SetRepository.open(dir, { logger });
  const put = async (policy: Policy, file: string, body: string, mode = 0o600): Promise<string> => {
    const path = join(dir, policy, file);
    await writeFile(path, body);
    await chmod(path, mode);
    return path;
  };
  return { dir, repo, warnings, put };
}

const summary = (sets: ReadonlyArray<{ policy: string; name: string; cidrs: ReadonlyArray<{ text: string }> }>) =>
  sets.map((s) => `${s.policy}/${s.name}: ${s.cidrs.map((c) => c.text).join(' ')}`);

test('open creates sets/drop and sets/ignore with mode 700', async (t) => {
  const { dir, repo } = await setup(t);
  for (const policy of ['drop', 'ignore']) t.is((await stat(join(dir, policy))).mode & 0o777, 0o700);
  t.deepEqual(await repo.loadAll(), []);
});

test('loadAll reads every valid file, drop first then ignore, by name, normalised', async (t) => {
  const { repo, warnings, put } = await setup(t);
  await put('drop', 'zeta.couic', '# comment\n10.0.0.0/8\n\n192.168.1.200/24 # host\n');
  await put('drop', 'alpha.couic', '2001:db8::1/32\n2001:db8::/32\n');
  await put('ignore', 'office.couic', '192.0.2.0/24\n');
  await put('drop', 'README', 'not a set: ignored');
  t.deepEqual(summary(await repo.loadAll()), [
    'drop/alpha: 2001:db8::/32',
    'drop/zeta: 10.0.0.0/8 192.168.1.0/24',
    'ignore/office: 192.0.2.0/24',
  ]);
  t.deepEqual(warnings, []);
});

test('a file with mode 644 is refused with a warning, the others still load', async (t) => {
  const { repo, warnings, put } = await setup(t);
  const open = await put('drop', 'open.couic', '10.0.0.0/8\n', 0o644);
  await put('drop', 'fine.couic', '11.0.0.0/8\n');
  t.deepEqual(summary(await repo.loadAll()), ['drop/fine: 11.0.0.0/8']);
  t.is(warnings.length, 1);
  t.is(warnings[0]?.fields.file, open);
  t.is(warnings[0]?.fields.policy, 'drop');
  t.regex(warnings[0]?.message ?? '', /mode 0644, expected 0600/);
});

test('a file over 5 MB is refused; exactly 5 MB is accepted', async (t) => {
  const { repo, warnings, put } = await setup(t);
  const line = '10.0.0.0/8\n';
  const exact = line.repeat(Math.floor(MAX_SET_FILE_BYTES / line.length));
  const padded = exact + '#'.repeat(MAX_SET_FILE_BYTES - exact.length);
  t.is(Buffer.byteLength(padded), MAX_SET_FILE_BYTES);
  await put('drop', 'exact.couic', padded);
  const big = await put('drop', 'big.couic', padded + '\n');
  t.deepEqual(summary(await repo.loadAll()), ['drop/exact: 10.0.0.0/8']);
  t.is(warnings.length, 1);
  t.is(warnings[0]?.fields.file, big);
  t.regex(warnings[0]?.message ?? '', /5242881 bytes, larger than the limit of 5242880 bytes/);
});

test('a sparse multi-gigabyte file is refused without being read', async (t) => {
  const { repo, warnings, put } = await setup(t);
  const path = await put('ignore', 'sparse.couic', '');
  await truncate(path, 4 * 1024 ** 3);
  t.deepEqual(await repo.loadAll(), []);
  t.regex(warnings[0]?.message ?? '', /larger than the limit/);
});

test('invalid file names are refused with a warning', async (t) => {
  const { repo, warnings, put } = await setup(t);
  await put('drop', `${'x'.repeat(49)}.couic`, '10.0.0.0/8\n');
  await put('drop', 'bad.name.couic', '10.0.0.0/8\n');
  await put('drop', `${'y'.repeat(48)}.couic`, '10.0.0.0/8\n');
  t.deepEqual(summary(await repo.loadAll()), [`drop/${'y'.repeat(48)}: 10.0.0.0/8`]);
  t.is(warnings.length, 2);
  for (const w of warnings) t.regex(w.message, /not a valid set name/);
});

test('a file with an invalid line is refused whole, the message quoting the first bad lines', async (t) => {
  const { repo, warnings, put } = await setup(t);
  const bad = ['10.0.0.0/8', ...Array.from({ length: 7 }, (_, i) => `bad${i}`), '11.0.0.0/8'];
  await put('drop', 'mixed.couic', bad.join('\n'));
  await put('ignore', 'one.couic', '192.0.2.0/24\n192.0.2.1\n');
  t.deepEqual(await repo.loadAll(), []);
  t.is(warnings.length, 2);
  const mixed = warnings.find((w) => String(w.fields.file).endsWith('mixed.couic'));
  t.regex(mixed?.message ?? '', /7 invalid line\(s\), whole file ignored: line 2: "bad0"/);
  t.regex(mixed?.message ?? '', /line 6: "bad4"/);
  t.notRegex(mixed?.message ?? '', /bad5/);
  t.regex(mixed?.message ?? '', /and 2 more/);
  const one = warnings.find((w) => String(w.fields.file).endsWith('one.couic'));
  t.regex(one?.message ?? '', /line 2: "192\.0\.2\.1": missing prefix/);
});

test('symbolic links and non-UTF-8 files are refused', async (t) => {
  const { dir, repo, warnings, put } = await setup(t);
  const target = await put('drop', '.hidden-target', '10.0.0.0/8\n');
  await symlink(target, join(dir, 'drop', 'link.couic'));
  await writeFile(join(dir, 'drop', 'latin1.couic'), Buffer.from([0x31, 0x30, 0xe9, 0x0a]), { mode: 0o600 });
  t.deepEqual(await repo.loadAll(), []);
  t.deepEqual(
    warnings.map((w) => w.message.replace(/^set file refused: file /, '').slice(0, 20)).sort(),
    ['is a symbolic link; ', 'is not valid UTF-8 t'],
  );
});

test('list does not log refusals again; scan returns them', async (t) => {
  const { repo, warnings, put } = await setup(t);
  await put('drop', 'open.couic', '10.0.0.0/8\n', 0o640);
  await put('ignore', 'ok.couic', '10.0.0.0/8\n');
  t.deepEqual(summary(await repo.list()), ['ignore/ok: 10.0.0.0/8']);
  t.deepEqual(await repo.list('drop'), []);
  t.is(warnings.length, 0);
  const scan = await repo.scan();
  t.is(scan.refused.length, 1);
  t.is(scan.refused[0]?.policy, 'drop');
  t.is(warnings.length, 1);
});

test('create writes a mode-600 normalised file that loadAll reads back', async (t) => {
  const { dir, repo, warnings } = await setup(t);
  const created = await repo.create('drop', 'bogons', ['192.168.1.200/24', '10.0.0.0/8', '192.168.1.0/24', '2001:db8::1/32']);
  t.deepEqual(summary([created]), ['drop/bogons: 192.168.1.0/24 10.0.0.0/8 2001:db8::/32']);
  const path = repo.filePath('drop', 'bogons');
  t.is(path, join(dir, 'drop', 'bogons.couic'));
  t.is((await stat(path)).mode & 0o777, 0o600);
  const text = await readFile(path, 'utf8');
  t.true(text.startsWith('#'));
  t.true(text.endsWith('\n192.168.1.0/24\n10.0.0.0/8\n2001:db8::/32\n'));
  t.deepEqual(await readdir(join(dir, 'drop')), ['bogons.couic']);
  t.deepEqual(summary(await repo.loadAll()), summary([created]));
  t.deepEqual(summary([await repo.get('drop', 'bogons')]), summary([created]));
  t.deepEqual(warnings, []);
});

test('create refuses an existing set with AlreadyExistsError, without touching it', async (t) => {
  const { repo, put } = await setup(t);
  const path = await put('ignore', 'office.couic', '192.0.2.0/24\n');
  await t.throwsAsync(repo.create('ignore', 'office', ['10.0.0.0/8']), { instanceOf: AlreadyExistsError });
  t.is(await readFile(path, 'utf8'), '192.0.2.0/24\n');
  // Same name under the other policy is another set.
  await t.notThrowsAsync(repo.create('drop', 'office', ['10.0.0.0/8']));
});

test('create reports every bad CIDR by index, and the name, without writing', async (t) => {
  const { dir, repo } = await setup(t);
  const error = await t.throwsAsync(repo.create('drop', 'x', ['10.0.0.0/8', 'nope', '1.2.3.4', '1.2.3.4/24']), {
    instanceOf: InvalidArgumentError,
  });
  t.deepEqual(
    error?.violations.map((v) => v.field),
    ['cidrs[1]', 'cidrs[2]'],
  );
  t.regex(error?.message ?? '', /cidrs\[2\]: missing prefix/);
  const named = await t.throwsAsync(repo.create('drop', 'bad name', ['nope']), { instanceOf: InvalidArgumentError });
  t.deepEqual(
    named?.violations.map((v) => v.field),
    ['name', 'cidrs[0]'],
  );
  await t.throwsAsync(repo.create('drop', 'x'.repeat(49), []), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(repo.create('drop', '../escape', []), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(repo.create('nope' as Policy, 'x', []), { instanceOf: InvalidArgumentError, message: /policy/ });
  t.deepEqual(await readdir(join(dir, 'drop')), []);
});

test('create caps the number of reported violations', async (t) => {
  const { repo } = await setup(t);
  const error = await t.throwsAsync(repo.create('drop', 'x', Array.from({ length: 50 }, () => 'bad')), {
    instanceOf: InvalidArgumentError,
  });
  t.is(error?.violations.length, 21);
  t.deepEqual(error?.violations.at(-1), { field: 'cidrs', message: 'and 30 more invalid entries' });
});

test('create refuses content that would exceed 5 MB', async (t) => {
  const { repo } = await setup(t);
  const many = Array.from({ length: 400_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  await t.throwsAsync(repo.create('drop', 'huge', many), { instanceOf: InvalidArgumentError, message: /limit is 5242880/ });
});

test('update replaces the content of an existing set; NotFoundError when missing', async (t) => {
  const { repo } = await setup(t);
  await t.throwsAsync(repo.update('drop', 'ghost', ['10.0.0.0/8']), { instanceOf: NotFoundError });
  await repo.create('drop', 'a', ['10.0.0.0/8', '11.0.0.0/8']);
  const updated = await repo.update('drop', 'a', ['12.0.0.0/8']);
  t.deepEqual(summary([updated]), ['drop/a: 12.0.0.0/8']);
  t.deepEqual(summary(await repo.loadAll()), ['drop/a: 12.0.0.0/8']);
  t.is((await stat(repo.filePath('drop', 'a'))).mode & 0o777, 0o600);
});

test('update of a refused (mode 644) file rewrites it privately', async (t) => {
  const { repo, put } = await setup(t);
  const path = await put('drop', 'open.couic', '10.0.0.0/8\n', 0o644);
  await repo.update('drop', 'open', ['11.0.0.0/8']);
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.deepEqual(summary(await repo.loadAll()), ['drop/open: 11.0.0.0/8']);
});

test('get: NotFoundError when missing, FailedPreconditionError naming the reason when refused', async (t) => {
  const { repo, put } = await setup(t);
  await t.throwsAsync(repo.get('drop', 'ghost'), { instanceOf: NotFoundError });
  await put('drop', 'open.couic', '10.0.0.0/8\n', 0o644);
  await t.throwsAsync(repo.get('drop', 'open'), { instanceOf: FailedPreconditionError, message: /mode 0644/ });
  await t.throwsAsync(repo.get('drop', 'a/b'), { instanceOf: InvalidArgumentError });
});

test('delete removes the file; NotFoundError when missing', async (t) => {
  const { repo } = await setup(t);
  await repo.create('ignore', 'a', ['10.0.0.0/8']);
  await repo.delete('ignore', 'a');
  t.deepEqual(await repo.loadAll(), []);
  await t.throwsAsync(repo.delete('ignore', 'a'), { instanceOf: NotFoundError });
  await t.throwsAsync(repo.delete('ignore', '..'), { instanceOf: InvalidArgumentError });
});

test('concurrent creates of one set: exactly one succeeds', async (t) => {
  const { repo } = await setup(t);
  const results = await Promise.allSettled([repo.create('drop', 'r', ['10.0.0.0/8']), repo.create('drop', 'r', ['11.0.0.0/8'])]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  t.is((await repo.loadAll()).length, 1);
});

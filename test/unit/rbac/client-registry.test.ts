import test from 'ava';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../../../src/domain/errors.js';
import { ClientRegistry, clientsDirOf, type WarnLogger } from '../../../src/rbac/client-registry.js';

interface Warning {
  fields: Record<string, unknown>;
  message: string;
}

function capture(): { logger: WarnLogger; warnings: Warning[] } {
  const warnings: Warning[] = [];
  return { logger: { warn: (fields, message) => warnings.push({ fields, message }) }, warnings };
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'couic-clients-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

async function writeClient(dir: string, file: string, body: string, mode = 0o600): Promise<void> {
  const path = join(dir, file);
  await writeFile(path, body);
  await chmod(path, mode); // explicit: the umask must not decide what the test checks
}

const clientToml = (name: string, group: string, token: string): string =>
  `name = "${name}"\ngroup = "${group}"\ntoken = "${token}"\n`;

test('open creates the clients directory with mode 700', async (t) => {
  const work = await tempDir(t);
  const dir = clientsDirOf(work);
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  t.is((await stat(dir)).mode & 0o777, 0o700);
  t.is(registry.size, 0);
  t.deepEqual(registry.list(), []);
});

test('add writes a mode-600 file that a fresh registry loads back', async (t) => {
  const dir = await tempDir(t);
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  const client = await registry.add('bot', 'clientrw');
  t.is(client.name, 'bot');
  t.is(client.group, 'clientrw');
  t.regex(client.token, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const path = registry.clientFilePath('bot');
  t.is(path, join(dir, 'bot.toml'));
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.is(await readFile(path, 'utf8'), clientToml('bot', 'clientrw', client.token));
  t.deepEqual(await readdir(dir), ['bot.toml']); // no temp file left behind

  const fresh = await ClientRegistry.open(dir, { logger });
  t.deepEqual(fresh.get('bot'), client);
  t.deepEqual(fresh.findByToken(client.token), client);
  t.deepEqual(warnings, []);
});

test('each client gets its own token', async (t) => {
  const registry = await ClientRegistry.open(await tempDir(t), { logger: capture().logger });
  const a = await registry.add('a', 'admin');
  const b = await registry.add('b', 'admin');
  t.not(a.token, b.token);
});

test('get, list (sorted by name), findByToken and delete round trip', async (t) => {
  const dir = await tempDir(t);
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  const zed = await registry.add('zed', 'monitoring');
  const alpha = await registry.add('alpha', 'peering');
  const mid = await registry.add('Mid', 'clientro');
  t.deepEqual(
    registry.list().map((c) => c.name),
    ['Mid', 'alpha', 'zed'],
  );
  t.deepEqual(registry.get('alpha'), alpha);
  t.deepEqual(registry.findByToken(zed.token), zed);
  t.is(registry.findByToken(zed.token.toUpperCase()), undefined); // exact string comparison
  t.is(registry.findByToken(''), undefined);

  t.deepEqual(await registry.delete('alpha'), alpha);
  t.throws(() => registry.get('alpha'), { instanceOf: NotFoundError });
  t.is(registry.findByToken(alpha.token), undefined);
  t.deepEqual((await readdir(dir)).sort(), ['Mid.toml', 'zed.toml']);
  const fresh = await ClientRegistry.open(dir, { logger: capture().logger });
  t.deepEqual(fresh.list(), [mid, zed]);
});

test('get and delete of an unknown client throw NotFoundError', async (t) => {
  const registry = await ClientRegistry.open(await tempDir(t), { logger: capture().logger });
  t.throws(() => registry.get('ghost'), { instanceOf: NotFoundError, message: /ghost/ });
  await t.throwsAsync(registry.delete('ghost'), { instanceOf: NotFoundError });
});

test('add refuses an existing name with AlreadyExistsError and keeps the first token', async (t) => {
  const registry = await ClientRegistry.open(await tempDir(t), { logger: capture().logger });
  const first = await registry.add('bot', 'admin');
  await t.throwsAsync(registry.add('bot', 'clientro'), { instanceOf: AlreadyExistsError });
  t.deepEqual(registry.get('bot'), first);
});

test('concurrent adds of the same name: exactly one wins', async (t) => {
  const registry = await ClientRegistry.open(await tempDir(t), { logger: capture().logger });
  const results = await Promise.allSettled([registry.add('race', 'admin'), registry.add('race', 'admin')]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  t.is(registry.size, 1);
});

test('add validates name and group, reporting both fields and the valid groups', async (t) => {
  const registry = await ClientRegistry.open(await tempDir(t), { logger: capture().logger });
  const error = await t.throwsAsync(registry.add('bad name', 'root'), { instanceOf: InvalidArgumentError });
  t.deepEqual(
    error?.violations.map((v) => v.field),
    ['name', 'group'],
  );
  t.regex(error?.message ?? '', /admin, clientrw, clientro, peering, monitoring/);
  for (const name of ['', 'x'.repeat(49), '../evil', 'a.b']) {
    const e = await t.throwsAsync(registry.add(name, 'admin'), { instanceOf: InvalidArgumentError });
    t.deepEqual(
      e?.violations.map((v) => v.field),
      ['name'],
    );
  }
  await t.notThrowsAsync(registry.add('x'.repeat(48), 'admin'));
  t.is(registry.size, 1);
});

test('a client file with mode 644 is refused with a warning, the others load', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'open.toml', clientToml('open', 'admin', T1), 0o644);
  await writeClient(dir, 'good.toml', clientToml('good', 'clientro', T2));
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  t.deepEqual(
    registry.list().map((c) => c.name),
    ['good'],
  );
  t.is(registry.findByToken(T1), undefined);
  t.is(warnings.length, 1);
  t.is(warnings[0]?.fields.file, join(dir, 'open.toml'));
  t.regex(warnings[0]?.message ?? '', /mode 0644, expected 0600/);
  t.deepEqual(
    registry.refused.map((r) => r.file),
    [join(dir, 'open.toml')],
  );
});

test('group- or other-readable modes are refused whatever the user (root included)', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'g.toml', clientToml('g', 'admin', T1), 0o640);
  await writeClient(dir, 'o.toml', clientToml('o', 'admin', T2), 0o604);
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  t.is(registry.size, 0);
  t.is(warnings.length, 2);
});

test('malformed TOML, bad fields and bad file names are refused with warnings, never a crash', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'broken.toml', 'name = "broken"\ngroup = \n');
  await writeClient(dir, 'nogroup.toml', `name = "nogroup"\ntoken = "${T1}"\n`);
  await writeClient(dir, 'badgroup.toml', clientToml('badgroup', 'root', T1));
  await writeClient(dir, 'badtoken.toml', clientToml('badtoken', 'admin', 'secret'));
  await writeClient(dir, 'bad.name.toml', clientToml('bad.name', 'admin', T1));
  await writeClient(dir, 'binary.toml', '\u0000\u0001');
  await writeFile(join(dir, 'huge.toml'), 'x'.repeat(70_000), { mode: 0o600 });
  await mkdir(join(dir, 'adir.toml'));
  await writeClient(dir, 'notes.txt', 'ignored: not a client file');
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  t.is(registry.size, 0);
  const reasons = new Map(warnings.map((w) => [String(w.fields.file).slice(dir.length + 1), String(w.fields.reason)]));
  t.deepEqual([...reasons.keys()].sort(), [
    'adir.toml',
    'bad.name.toml',
    'badgroup.toml',
    'badtoken.toml',
    'binary.toml',
    'broken.toml',
    'huge.toml',
    'nogroup.toml',
  ]);
  t.regex(reasons.get('broken.toml') ?? '', /not valid TOML/);
  t.regex(reasons.get('nogroup.toml') ?? '', /"group" is missing/);
  t.regex(reasons.get('badgroup.toml') ?? '', /must be one of/);
  t.regex(reasons.get('badtoken.toml') ?? '', /UUID v4/);
  t.regex(reasons.get('bad.name.toml') ?? '', /not a valid client name/);
  t.regex(reasons.get('huge.toml') ?? '', /larger than the limit/);
  t.regex(reasons.get('adir.toml') ?? '', /not a regular file/);
});

test('a symbolic link is refused even when its target is private', async (t) => {
  const dir = await tempDir(t);
  const outside = await tempDir(t);
  await writeClient(outside, 'real.toml', clientToml('linked', 'admin', T1));
  await symlink(join(outside, 'real.toml'), join(dir, 'linked.toml'));
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  t.is(registry.size, 0);
  t.regex(warnings[0]?.message ?? '', /symbolic link/);
});

test('a token shared by two files refuses both', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'a.toml', clientToml('a', 'admin', T1));
  await writeClient(dir, 'b.toml', clientToml('b', 'clientro', T1));
  await writeClient(dir, 'c.toml', clientToml('c', 'clientro', T2));
  const { logger, warnings } = capture();
  const registry = await ClientRegistry.open(dir, { logger });
  t.deepEqual(
    registry.list().map((c) => c.name),
    ['c'],
  );
  t.is(registry.findByToken(T1), undefined);
  t.is(warnings.length, 2);
  for (const w of warnings) t.regex(w.message, /token is shared/);
});

test('ownerUid, when given, refuses files owned by someone else', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'a.toml', clientToml('a', 'admin', T1));
  const uid = (await stat(join(dir, 'a.toml'))).uid;
  t.is((await ClientRegistry.open(dir, { logger: capture().logger, ownerUid: uid })).size, 1);
  const { logger, warnings } = capture();
  t.is((await ClientRegistry.open(dir, { logger, ownerUid: uid + 1 })).size, 0);
  t.regex(warnings[0]?.message ?? '', /owned by uid/);
});

test('add never overwrites a refused file of the same name', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'bot.toml', clientToml('bot', 'admin', T1), 0o644);
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  await t.throwsAsync(registry.add('bot', 'admin'), { instanceOf: AlreadyExistsError, message: /not loaded/ });
  t.is(await readFile(join(dir, 'bot.toml'), 'utf8'), clientToml('bot', 'admin', T1));
});

test('ensureDefaultAdmin creates couicctl (admin) on first start only', async (t) => {
  const dir = await tempDir(t);
  const first = await ClientRegistry.open(dir, { logger: capture().logger });
  const path = await first.ensureDefaultAdmin();
  t.is(path, join(dir, 'couicctl.toml'));
  const admin = first.get('couicctl');
  t.is(admin.group, 'admin');
  t.is((await stat(join(dir, 'couicctl.toml'))).mode & 0o777, 0o600);

  const second = await ClientRegistry.open(dir, { logger: capture().logger });
  t.is(await second.ensureDefaultAdmin(), undefined);
  t.is(second.get('couicctl').token, admin.token); // not regenerated
});

test('ensureDefaultAdmin does nothing when other clients exist, even without couicctl', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'ops.toml', clientToml('ops', 'admin', T1));
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  t.is(await registry.ensureDefaultAdmin(), undefined);
  t.throws(() => registry.get('couicctl'), { instanceOf: NotFoundError });
});

test('ensureDefaultAdmin does not replace a refused couicctl file', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'couicctl.toml', clientToml('couicctl', 'admin', T1), 0o644);
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  t.is(await registry.ensureDefaultAdmin(), undefined);
  t.is(await readFile(join(dir, 'couicctl.toml'), 'utf8'), clientToml('couicctl', 'admin', T1));
});

test('stale temp files from an interrupted write are cleaned at open and never loaded', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, '.x.toml.abc.tmp', clientToml('x', 'admin', T1));
  const registry = await ClientRegistry.open(dir, { logger: capture().logger });
  t.is(registry.size, 0);
  t.deepEqual(await readdir(dir), []);
});

test('a pino logger can be injected and receives the refusal', async (t) => {
  const dir = await tempDir(t);
  await writeClient(dir, 'open.toml', clientToml('open', 'admin', T1), 0o666);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  await ClientRegistry.open(dir, { logger: pino(sink) });
  const record = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  t.is(record.level, 40);
  t.is(record.file, join(dir, 'open.toml'));
  t.regex(String(record.msg), /client file refused: file has mode 0666/);
});

// The real couicctl binary against the real daemon: the reference walkthrough's
// table, --json, -q, durations, errors as one stderr line with a non-zero exit,
// clients/sets/stats/check commands, and a clear error when no daemon runs.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, runCliRaw, writeLocalCliConfig, type CliResult } from '../helpers/cli.js';
import { collect, connectUnix, expectGrpcError, Status } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { nowSeconds, Policy } from '../helpers/rules.js';
import { fileScope } from '../helpers/tmp.js';

const test = anyTest as TestFn;
const scope = fileScope(test);
let daemon: Daemon;
let configPath: string;

test.before(async () => {
  daemon = await startDaemon(scope);
  configPath = await writeLocalCliConfig(daemon);
});

const cli = (...args: string[]): Promise<CliResult> => runCli(undefined, args, { configPath });

/** The rows of a rendered table (cells trimmed), header first; undefined if not a table. */
function tableRows(text: string): string[][] | undefined {
  const lines = text.trimEnd().split('\n');
  if (lines.length < 4) return undefined;
  const rows: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('│')) rows.push(line.slice(1, -1).split('┆').map((c) => c.trim()));
  }
  return rows;
}

/** Checks the reference's box drawing: top, header, double rule, body rows with dashed rules, bottom. */
function assertTableShape(t: ExecutionContext, text: string, columns: number): void {
  const lines = text.trimEnd().split('\n');
  t.true(lines.length >= 5, text);
  const width = [...(lines[0] ?? '')].length;
  for (const line of lines) t.is([...line].length, width, `every line has the same width:\n${text}`);
  t.regex(lines[0] ?? '', /^┌─+(┬─+)*┐$/);
  t.regex(lines[1] ?? '', /^│.*│$/);
  t.regex(lines[2] ?? '', /^╞═+(╪═+)*╡$/);
  t.regex(lines.at(-1) ?? '', /^└─+(┴─+)*┘$/);
  t.is((lines[0]?.match(/┬/g) ?? []).length, columns - 1);
  for (const line of lines.slice(3, -1)) {
    t.true(/^│.*│$/.test(line) || /^├╌+(┼╌+)*┤$/.test(line), `body line: ${line}`);
  }
}

function assertOneErrorLine(t: ExecutionContext, result: CliResult, pattern: RegExp): void {
  t.not(result.code, 0, 'non-zero exit');
  const lines = result.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one stderr line, got:\n${result.stderr}`);
  t.regex(lines[0] ?? '', pattern);
}

test('drop add 1.1.1.1/32 -e 1m prints the reference table', async (t) => {
  const result = await cli('drop', 'add', '1.1.1.1/32', '-e', '1m');
  t.is(result.code, 0, result.stderr);
  t.is(result.stderr, '');
  assertTableShape(t, result.stdout, 4);
  const rows = tableRows(result.stdout);
  t.deepEqual(rows?.[0], ['Policy', 'CIDR', 'Tag', 'Expiration']);
  t.is(rows?.length, 2);
  t.deepEqual(rows?.[1]?.slice(0, 3), ['drop', '1.1.1.1/32', '']);
  // 59s in the reference; a loaded machine may take a few seconds between add and print.
  t.regex(rows?.[1]?.[3] ?? '', /^(5\ds|60s|1m)$/);
  t.regex(result.stdout, /│ Policy ┆ CIDR {7}┆ Tag ┆ Expiration │/);
});

test('drop list shows the rule; --json parses; -q prints only CIDRs', async (t) => {
  const add = await cli('drop', 'add', '2.2.2.0/24', '-e', '1m', '-t', 'listing');
  t.is(add.code, 0, add.stderr);
  const list = await cli('drop', 'list', '-t', 'listing');
  t.is(list.code, 0, list.stderr);
  assertTableShape(t, list.stdout, 4);
  const rows = tableRows(list.stdout);
  t.deepEqual(rows?.[1]?.slice(0, 3), ['drop', '2.2.2.0/24', 'listing']);
  t.regex(rows?.[1]?.[3] ?? '', /^(\d+s|1m)$/);

  const json = await cli('drop', 'list', '-t', 'listing', '--json');
  t.is(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { policy: string; cidr: string; tag: string; expiration: number }[];
  t.true(Array.isArray(parsed));
  t.is(parsed.length, 1);
  t.is(parsed[0]?.policy, 'drop');
  t.is(parsed[0]?.cidr, '2.2.2.0/24');
  t.is(parsed[0]?.tag, 'listing');
  t.true((parsed[0]?.expiration ?? 0) > nowSeconds() && (parsed[0]?.expiration ?? 0) <= nowSeconds() + 61);

  const quiet = await cli('drop', 'list', '-q', '-t', 'listing');
  t.is(quiet.code, 0, quiet.stderr);
  t.is(quiet.stdout, '2.2.2.0/24\n');
});

test('a rule with several rows gets dashed inner rules; never shows "never"', async (t) => {
  t.is((await cli('ignore', 'add', '3.3.3.0/24', '-t', 'rows')).code, 0);
  t.is((await cli('ignore', 'add', '8.8.8.8/32', '-t', 'rows2')).code, 0);
  const list = await cli('ignore', 'list', '-t', 'rows*');
  t.is(list.code, 0, list.stderr);
  assertTableShape(t, list.stdout, 4);
  t.regex(list.stdout, /├╌+┼╌+┼╌+┼╌+┤/);
  const rows = tableRows(list.stdout);
  t.deepEqual(rows?.slice(1).map((r) => r[3]), ['never', 'never']);
  t.deepEqual(rows?.slice(1).map((r) => r[0]), ['ignore', 'ignore']);
});

const durations: ReadonlyArray<[string, number]> = [
  ['30s', 30],
  ['1m', 60],
  ['2h', 7_200],
  ['1d', 86_400],
  ['5', 300],
];

for (const [flag, seconds] of durations) {
  test(`-e ${flag} sets the expiration ${seconds}s ahead`, async (t) => {
    const cidr = `4.4.${seconds % 250}.0/24`;
    const before = nowSeconds();
    const add = await cli('drop', 'add', cidr, '-e', flag, '--json');
    t.is(add.code, 0, add.stderr);
    const inspect = await cli('drop', 'inspect', cidr, '--json');
    t.is(inspect.code, 0, inspect.stderr);
    const entry = JSON.parse(inspect.stdout) as { expiration: number };
    t.true(entry.expiration >= before + seconds && entry.expiration <= nowSeconds() + seconds, `${entry.expiration} vs now ${before}`);
  });
}

test('bad CIDR: non-zero exit and one error line with INVALID_ARGUMENT', async (t) => {
  const result = await cli('drop', 'add', '1.1.1.1/33');
  assertOneErrorLine(t, result, /INVALID_ARGUMENT.*cidr/);
  t.is(result.stdout, '');
});

test('bad tag and bad duration are refused with one error line', async (t) => {
  assertOneErrorLine(t, await cli('drop', 'add', '5.5.5.5/32', '-t', 'x.couic'), /tag/);
  const badDuration = await cli('drop', 'add', '5.5.5.5/32', '-e', 'soon');
  assertOneErrorLine(t, badDuration, /soon|duration|expir/i);
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '5.5.5.5/32' }), Status.NOT_FOUND);
});

test('inspect and delete of an unknown rule: NOT_FOUND, one line, non-zero', async (t) => {
  assertOneErrorLine(t, await cli('drop', 'inspect', '6.6.6.0/24'), /NOT_FOUND/);
  assertOneErrorLine(t, await cli('drop', 'delete', '6.6.6.0/24'), /NOT_FOUND/);
});

test('drop delete removes the rule', async (t) => {
  t.is((await cli('drop', 'add', '7.7.7.7/32', '-t', 'deleteme')).code, 0);
  const del = await cli('drop', 'delete', '7.7.7.7/32');
  t.is(del.code, 0, del.stderr);
  t.is((await cli('drop', 'list', '-q', '-t', 'deleteme')).stdout, '');
});

test('check IP prints the verdict and the deciding rule', async (t) => {
  t.is((await cli('drop', 'add', '9.9.0.0/16')).code, 0);
  t.is((await cli('ignore', 'add', '9.9.9.0/24')).code, 0);
  const dropped = await cli('check', '9.9.1.1');
  t.is(dropped.code, 0, dropped.stderr);
  t.regex(dropped.stdout, /drop[\s\S]*9\.9\.0\.0\/16/);
  const json = await cli('check', '9.9.9.9', '--json');
  t.is(json.code, 0, json.stderr);
  t.regex(json.stdout, /"verdict":\s*"pass"/i);
  t.regex(json.stdout, /9\.9\.9\.0\/24/);
  assertOneErrorLine(t, await cli('check', 'not-an-ip'), /INVALID_ARGUMENT|address/);
});

test('clients add -n couic2 -g peering prints a token table; the token belongs to group peering', async (t) => {
  const result = await cli('clients', 'add', '-n', 'couic2', '-g', 'peering');
  t.is(result.code, 0, result.stderr);
  assertTableShape(t, result.stdout, 3);
  const rows = tableRows(result.stdout);
  t.deepEqual(rows?.[0], ['Name', 'Group', 'Token']);
  t.deepEqual(rows?.[1]?.slice(0, 2), ['couic2', 'peering']);
  const token = rows?.[1]?.[2] ?? '';
  t.regex(token, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const peer = connectUnix(t, daemon.socketPath, token);
  await expectGrpcError(t, collect(peer.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false })), Status.PERMISSION_DENIED);

  const list = await cli('clients', 'list', '-q');
  t.is(list.code, 0, list.stderr);
  t.true(list.stdout.split('\n').includes('couic2'), list.stdout);
  const inspect = await cli('clients', 'inspect', 'couic2', '--json');
  t.is(inspect.code, 0, inspect.stderr);
  t.regex(inspect.stdout, /peering/);
  assertOneErrorLine(t, await cli('clients', 'add', '-n', 'couic2', '-g', 'peering'), /ALREADY_EXISTS/);
  assertOneErrorLine(t, await cli('clients', 'add', '-n', 'couic3', '-g', 'superuser'), /group/);
  t.is((await cli('clients', 'delete', 'couic2')).code, 0);
});

test('sets create --from-file, list, inspect, reload, delete', async (t) => {
  const file = join(daemon.dir, 'bogons.txt');
  await writeFile(file, '# bogons\n240.0.0.0/4\n\n198.18.0.0/15\n');
  const create = await cli('sets', 'create', 'drop', 'bogons', '--from-file', file);
  t.is(create.code, 0, create.stderr);
  const list = await cli('sets', 'list', '--json');
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /bogons/);
  const inspect = await cli('sets', 'inspect', 'drop', 'bogons');
  t.is(inspect.code, 0, inspect.stderr);
  t.regex(inspect.stdout, /240\.0\.0\.0\/4/);
  t.regex(inspect.stdout, /198\.18\.0\.0\/15/);
  const entries = await cli('drop', 'list', '-t', 'bogons.couic', '--json');
  t.is(entries.code, 0, entries.stderr);
  const reload = await cli('sets', 'reload');
  t.is(reload.code, 0, reload.stderr);
  assertOneErrorLine(t, await cli('drop', 'delete', '240.0.0.0/4'), /FAILED_PRECONDITION/);
  const del = await cli('sets', 'delete', 'drop', 'bogons');
  t.is(del.code, 0, del.stderr);
  assertOneErrorLine(t, await cli('sets', 'inspect', 'drop', 'bogons'), /NOT_FOUND/);
});

test('stats global prints a table and --json parses', async (t) => {
  const table = await cli('stats', 'global');
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /┌/);
  const json = await cli('stats', 'global', '--json');
  t.is(json.code, 0, json.stderr);
  t.notThrows(() => JSON.parse(json.stdout) as unknown);
  for (const policy of ['drop', 'ignore']) {
    const tags = await cli('stats', policy, '--json');
    t.is(tags.code, 0, tags.stderr);
    t.notThrows(() => JSON.parse(tags.stdout) as unknown);
  }
});

test('the config path can come from COUICCTL_CONFIG', async (t) => {
  t.is((await runCliRaw(['drop', 'add', '10.10.10.10/32', '-t', 'fromenv'], { env: { COUICCTL_CONFIG: configPath } })).code, 0);
  const list = await runCliRaw(['drop', 'list', '-q', '-t', 'fromenv'], { env: { COUICCTL_CONFIG: configPath } });
  t.is(list.stdout, '10.10.10.10/32\n');
});

test('a missing config file is a clear one-line error', async (t) => {
  const result = await runCliRaw(['-c', join(daemon.dir, 'nope.toml'), 'drop', 'list']);
  assertOneErrorLine(t, result, /nope\.toml/);
});

test('daemon not running: clear error, non-zero exit', async (t) => {
  const stopped = await startDaemon(t);
  const path = await writeLocalCliConfig(stopped);
  await stopped.stop();
  const result = await runCli(undefined, ['drop', 'list'], { configPath: path });
  assertOneErrorLine(t, result, /UNAVAILABLE|cannot reach|daemon/i);
  t.regex(result.stderr, /running|reach/i);
  t.is(result.stdout, '');
});

test('usage errors exit non-zero and say what is missing', async (t) => {
  const result = await cli('drop', 'add');
  t.not(result.code, 0);
  t.regex(result.stderr, /cidr|argument/i);
});

/** `count` distinct host CIDRs: IPv4 from 10.0.0.0 on, or IPv6 from 2001:db8:: on. */
function hostCidrs(family: 4 | 6, count: number, base = 0): string[] {
  const out: string[] = [];
  for (let i = base; i < base + count; i++) {
    if (family === 4) out.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
    else out.push(`2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}/128`);
  }
  return out;
}

test('at capacity: --from-file of 262,144 lines; list, -q and --json of 524,288 drop rules; 589,824 held', async (t) => {
  t.timeout(15 * 60_000, '589,824 rules through the real CLI and daemon on a loaded machine');
  const own = await startDaemon(t);
  const ownConfig = await writeLocalCliConfig(own);
  const long = { configPath: ownConfig, timeoutMs: 10 * 60_000 };
  const v4 = hostCidrs(4, 262_144);
  const v6 = hostCidrs(6, 262_144);
  const ignore = Array.from({ length: 65_536 }, (_, i) => `172.16.${i >> 8}.${i & 255}/32`);
  const files: Record<string, string> = { v4: join(own.dir, 'v4.txt'), v6: join(own.dir, 'v6.txt'), ignore: join(own.dir, 'ignore.txt'), all: join(own.dir, 'all.txt') };
  await writeFile(files['v4'] ?? '', `${v4.join('\n')}\n`);
  await writeFile(files['v6'] ?? '', `# IPv6 hosts\n${v6.join('\n')}\n`);
  await writeFile(files['ignore'] ?? '', `${ignore.join('\n')}\n`);

  for (const [policy, file, count] of [['drop', 'v4', 262_144], ['drop', 'v6', 262_144], ['ignore', 'ignore', 65_536]] as const) {
    const added = await runCli(undefined, [policy, 'add', '--from-file', files[file] ?? '', '-e', '1h', '-t', 'cap'], long);
    t.is(added.code, 0, added.stderr);
    t.is(added.stdout, `Added ${count} ${policy} rules (${count} new, 0 replaced).\n`);
  }

  const quiet = await runCli(undefined, ['drop', 'list', '-q'], long);
  t.is(quiet.code, 0, quiet.stderr);
  const cidrs = quiet.stdout.trimEnd().split('\n');
  t.is(cidrs.length, 524_288);
  t.is(cidrs[0], '10.0.0.0/32');
  t.is(cidrs[524_287], '2001:db8::3:ffff/128');

  const table = await runCli(undefined, ['drop', 'list'], long);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  t.is(lines.length, 3 + 2 * 524_288, 'top rule, header, header rule, then rows with rules between');
  t.is(new Set(lines.map((l) => [...l].length)).size, 1, 'every line as wide as the widest CIDR needs');
  t.regex(lines[3] ?? '', /^│ drop +┆ 10\.0\.0\.0\/32 +┆ cap ┆ \d+m( \d+s)? +│$/, 'expiring within the hour it was given');

  const json = await runCli(undefined, ['drop', 'list', '--json'], long);
  t.is(json.code, 0, json.stderr);
  const entries = JSON.parse(json.stdout) as { cidr: string; tag: string }[];
  t.is(entries.length, 524_288);
  t.is(entries[262_144]?.cidr, '2001:db8::/128');
  const ignored = JSON.parse((await runCli(undefined, ['ignore', 'list', '--json'], long)).stdout) as unknown[];
  t.is(ignored.length, 65_536);

  // A file longer than one batch (the daemon takes 262,144 per call): sent as several.
  await writeFile(files['all'] ?? '', `${v4.join('\n')}\n${v6.join('\n')}\n`);
  const deleted = await runCli(undefined, ['drop', 'delete', '--from-file', files['all'] ?? ''], long);
  t.is(deleted.code, 0, deleted.stderr);
  t.is(deleted.stdout, 'Deleted 524288 drop rules.\n');
  t.is((await runCli(undefined, ['drop', 'list', '-q'], long)).stdout, '');
});

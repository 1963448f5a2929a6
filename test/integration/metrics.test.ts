// Prometheus metrics over HTTP ([metrics] listen) and the stats API: bearer-token
// auth (401 without/unknown token, 403 for groups without stats rights), the
// reference's metric names, valid exposition format, and values that follow the rules.
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { XdpAction } from '../../src/generated/couic/v1/stats.js';
import { connectUnix, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, eventually, ignoreSpec, Policy } from '../helpers/rules.js';
import { fileScope } from '../helpers/tmp.js';

const test = anyTest as TestFn;
const scope = fileScope(test);
let daemon: Daemon;
let admin: CouicClients;
const tokens: Record<string, string> = {};

test.before(async () => {
  daemon = await startDaemon(scope, { metrics: true });
  admin = connectUnix(scope, daemon.socketPath, daemon.adminToken);
  for (const group of ['monitoring', 'clientro', 'clientrw', 'peering']) {
    const { client } = await admin.clients.addClient({ name: `m-${group}`, group });
    tokens[group] = client?.token ?? '';
  }
});

function metricsUrl(): string {
  if (daemon.metricsUrl === undefined) throw new Error('metrics not configured');
  return daemon.metricsUrl;
}

async function scrape(token?: string): Promise<{ status: number; body: string; contentType: string | null; authenticate: string | null }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(metricsUrl(), { headers, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type'), authenticate: response.headers.get('www-authenticate') };
}

/** Samples of the exposition text: "name{labels}" -> value. */
function samples(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)(?: \d+)?$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) out.set(match[1], Number(match[2]));
  }
  return out;
}

const REFERENCE_NAMES = [
  'couic_drop_cidr_total',
  'couic_ignore_cidr_total',
  'couic_stats_rx_packets_total',
  'couic_stats_rx_bytes_total',
  'couic_drop_tag_rx_packets_total',
  'couic_drop_tag_rx_bytes_total',
  'couic_ignore_tag_rx_packets_total',
  'couic_ignore_tag_rx_bytes_total',
];

test('GET /metrics without a token is 401 with a Bearer challenge', async (t) => {
  const answer = await scrape();
  t.is(answer.status, 401);
  t.regex(answer.authenticate ?? '', /Bearer/i);
  t.notRegex(answer.body, /couic_drop_cidr_total/);
});

test('GET /metrics with an unknown token is 401', async (t) => {
  t.is((await scrape(randomUUID())).status, 401);
});

for (const group of ['clientro', 'clientrw', 'peering']) {
  test(`GET /metrics with a ${group} token is 403`, async (t) => {
    const answer = await scrape(tokens[group]);
    t.is(answer.status, 403);
    t.notRegex(answer.body, /couic_drop_cidr_total/);
  });
}

test('GET /metrics with a monitoring token is 200 with every reference metric name, valid format', async (t) => {
  const answer = await scrape(tokens['monitoring']);
  t.is(answer.status, 200, answer.body);
  t.regex(answer.contentType ?? '', /^text\/plain/);
  for (const name of REFERENCE_NAMES) t.regex(answer.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  for (const line of answer.body.split('\n')) {
    if (line === '') continue;
    t.regex(line, /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?)$/, line);
  }
  for (const action of ['ABORTED', 'DROP', 'PASS', 'REDIRECT', 'TX']) {
    t.regex(answer.body, new RegExp(`^couic_stats_rx_packets_total\\{action="${action}"\\} `, 'mi'), action);
  }
});

/**
 * The metric-name rules of `promtool check metrics` (Prometheus' promlint) that apply to
 * our exposition: Debian's promtool comes only with the whole prometheus package
 * (~100 MB with its web assets), so the rules are checked here instead.
 */
function promlintProblems(body: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of body.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help?.[1] !== undefined && help[2] !== undefined && help[2].trim() !== '') helps.add(help[1]);
  }
  for (const [name, type] of types) {
    const problem = (text: string): void => {
      problems.push(`${name}: ${text}`);
    };
    if (!helps.has(name)) problem('no help text');
    if (/[A-Z]/.test(name)) problem('metric names should be written in snake_case not camelCase');
    if (type === 'counter' && !name.endsWith('_total')) problem('counter metrics should have "_total" suffix');
    if (type !== 'counter' && name.endsWith('_total')) problem('non-counter metrics should not have "_total" suffix');
    if ((type === 'histogram' || type === 'summary') && /_(count|sum|bucket)$/.test(name)) problem('reserved suffix');
    for (const typeName of ['counter', 'gauge', 'histogram', 'summary', 'untyped']) {
      if (name.includes(`_${typeName}_`) || name.endsWith(`_${typeName}`)) problem(`metric name should not include type '${typeName}'`);
    }
    const unit = /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|kilobytes|megabytes|gigabytes|bits|percent)(_|$)/.exec(name);
    if (unit !== null) problem(`use base unit instead of "${unit[1]}"`);
    if (name.includes('__')) problem('double underscore');
  }
  for (const line of body.split('\n')) {
    const labels = /^[^#][^{]*\{(.*)\} /.exec(line)?.[1];
    if (labels === undefined) continue;
    for (const label of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
      if (label[1] !== undefined && /[A-Z]/.test(label[1])) problems.push(`label ${label[1]}: should be snake_case`);
    }
  }
  return problems;
}

/** The reference's two gauge names, kept for dashboards that use them (docs/metrics.md). */
const NAMED_EXCEPTIONS = [
  'couic_drop_cidr_total: non-counter metrics should not have "_total" suffix',
  'couic_ignore_cidr_total: non-counter metrics should not have "_total" suffix',
];

test('promtool name rules: no problem but the two documented reference gauges', async (t) => {
  const answer = await scrape(tokens['monitoring']);
  t.deepEqual(promlintProblems(answer.body), NAMED_EXCEPTIONS);
  // The checker itself catches what it claims to.
  t.deepEqual(promlintProblems('# HELP a_total x\n# TYPE a_total gauge\n# HELP b x\n# TYPE b counter\n# TYPE c_ms gauge\n'), [
    'a_total: non-counter metrics should not have "_total" suffix',
    'b: counter metrics should have "_total" suffix',
    'c_ms: no help text',
  ]);
});

// The real promtool (Debian's prometheus package, installed by scripts/system-deps.sh):
// on CI it must be there; elsewhere the test says it is missing and passes on the rules above.
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing = promtool.error !== undefined ? 'promtool not installed (apt-get install prometheus)' : undefined;

test('promtool check metrics: the exposition passes but for the two documented reference gauges', async (t) => {
  if (promtoolMissing !== undefined) {
    if (process.env['CI'] === 'true') t.fail(promtoolMissing);
    else t.log(promtoolMissing);
    t.pass();
    return;
  }
  const answer = await scrape(tokens['monitoring']);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: answer.body, encoding: 'utf8' });
  // promtool exits non-zero on lint problems and prints one "<name> <problem>" line each.
  const problems = `${check.stdout}${check.stderr}`
    .split('\n')
    .map((line) => line.trim().replace(/^(\S+) /, '$1: '))
    .filter((line) => line !== '')
    .sort();
  t.deepEqual(problems, [...NAMED_EXCEPTIONS].sort(), `promtool said:\n${check.stdout}${check.stderr}`);
});

test('correctly named CIDR gauges are served beside the reference names, same value', async (t) => {
  const values = samples((await scrape(tokens['monitoring'])).body);
  for (const policy of ['drop', 'ignore']) {
    t.true(values.has(`couic_${policy}_cidrs`));
    t.is(values.get(`couic_${policy}_cidrs`), values.get(`couic_${policy}_cidr_total`));
  }
});

test('process and Node.js runtime metrics are served (memory, CPU, event-loop lag, GC)', async (t) => {
  const body = (await scrape(tokens['monitoring'])).body;
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'nodejs_active_handles']) {
    t.regex(body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  t.regex(body, /per tag \(up to 254 tags tracked\)/);
});

test('gRPC request metrics count calls by method and status code, with a latency histogram', async (t) => {
  const before = samples((await scrape(tokens['monitoring'])).body);
  const ok = 'grpc_server_handled_total{grpc_service="couic.v1.RulesService",grpc_method="AddRule",grpc_type="unary",grpc_code="OK"}';
  const invalid = 'grpc_server_handled_total{grpc_service="couic.v1.RulesService",grpc_method="AddRule",grpc_type="unary",grpc_code="INVALID_ARGUMENT"}';
  const latencyCount = 'grpc_server_handling_seconds_count{grpc_service="couic.v1.RulesService",grpc_method="AddRule",grpc_type="unary",grpc_code="OK"}';
  await admin.rules.addRule({ rule: dropSpec('198.51.100.77/32') });
  await admin.rules.addRule({ rule: dropSpec('198.51.100.78/32') });
  await t.throwsAsync(admin.rules.addRule({ rule: dropSpec('not-a-cidr') }));
  const anonymous = connectUnix(scope, daemon.socketPath, undefined);
  await t.throwsAsync(anonymous.rules.addRule({ rule: dropSpec('198.51.100.79/32') }));
  const after = samples((await scrape(tokens['monitoring'])).body);
  t.true((after.get(ok) ?? 0) - (before.get(ok) ?? 0) >= 2, `${after.get(ok)}`);
  t.true((after.get(invalid) ?? 0) - (before.get(invalid) ?? 0) >= 1);
  t.true((after.get(latencyCount) ?? 0) - (before.get(latencyCount) ?? 0) >= 2);
  const unauthenticated = [...after.keys()].find((k) => k.startsWith('grpc_server_handled_total{') && k.includes('grpc_method="AddRule"') && k.includes('grpc_code="UNAUTHENTICATED"'));
  t.truthy(unauthenticated, 'a call refused by auth is counted with its code');
  t.true([...after.keys()].some((k) => k.startsWith('grpc_server_handling_seconds_bucket{') && k.includes('le="0.005"')));
  await admin.rules.deleteRules({ keys: [{ policy: Policy.POLICY_DROP, cidr: '198.51.100.77/32' }, { policy: Policy.POLICY_DROP, cidr: '198.51.100.78/32' }] });
});

test('GET /metrics with the admin token is 200', async (t) => {
  t.is((await scrape(daemon.adminToken)).status, 200);
});

test('other paths and methods are not the metrics', async (t) => {
  const other = await fetch(metricsUrl().replace('/metrics', '/other'), { headers: { authorization: `Bearer ${daemon.adminToken}` } });
  t.is(other.status, 404);
  const post = await fetch(metricsUrl(), { method: 'POST', headers: { authorization: `Bearer ${daemon.adminToken}` } });
  t.not(post.status, 200);
});

test.serial('CIDR gauges and the stats API follow the rules added and deleted', async (t) => {
  const before = samples((await scrape(tokens['monitoring'])).body);
  const drop0 = before.get('couic_drop_cidr_total') ?? Number.NaN;
  const ignore0 = before.get('couic_ignore_cidr_total') ?? Number.NaN;
  t.false(Number.isNaN(drop0) || Number.isNaN(ignore0), 'gauges have a value');

  await admin.rules.addRules({ rules: [dropSpec('192.0.2.1/32'), dropSpec('192.0.2.2/32'), dropSpec('2001:db8::/32'), ignoreSpec('10.0.0.0/8'), ignoreSpec('2001:db8:1::/48')] });
  const after = samples((await scrape(tokens['monitoring'])).body);
  t.is(after.get('couic_drop_cidr_total'), drop0 + 3);
  t.is(after.get('couic_ignore_cidr_total'), ignore0 + 2);

  const monitoring = connectUnix(t, daemon.socketPath, tokens['monitoring']);
  const stats = await monitoring.stats.getGlobalStats({});
  t.is(stats.dropCidrCount, drop0 + 3);
  t.is(stats.ignoreCidrCount, ignore0 + 2);
  t.is(stats.dataplane, 'userspace');
  t.deepEqual(stats.actions.map((a) => a.action).sort(), [XdpAction.XDP_ACTION_ABORTED, XdpAction.XDP_ACTION_DROP, XdpAction.XDP_ACTION_PASS, XdpAction.XDP_ACTION_TX, XdpAction.XDP_ACTION_REDIRECT].sort());
  for (const action of stats.actions) {
    const name = XdpAction[action.action].replace('XDP_ACTION_', '');
    t.is(after.get(`couic_stats_rx_packets_total{action="${name}"}`), action.rxPackets, name);
  }
  // Per-tag figures: the API and the metrics tell the same tags with the same counts.
  const tagStats = (await monitoring.stats.getTagStats({ policy: Policy.POLICY_DROP })).tags;
  const tagSamples = [...after].filter(([name]) => name.startsWith('couic_drop_tag_rx_packets_total{'));
  t.is(tagSamples.length, tagStats.length, 'one per-tag sample per tag the API lists');
  for (const tag of tagStats) t.is(after.get(`couic_drop_tag_rx_packets_total{tag="${tag.tag}"}`), tag.rxPackets, tag.tag);

  await admin.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '192.0.2.1/32' });
  const deleted = samples((await scrape(tokens['monitoring'])).body);
  t.is(deleted.get('couic_drop_cidr_total'), drop0 + 2);
});

test.serial('an expiring rule leaves the gauges and the stats on its own', async (t) => {
  const monitoring = connectUnix(t, daemon.socketPath, tokens['monitoring']);
  const before = (await monitoring.stats.getGlobalStats({})).dropCidrCount;
  await admin.rules.addRule({ rule: dropSpec('198.51.100.99/32', { expiration: Math.floor(Date.now() / 1000) + 2 }) });
  t.is((await monitoring.stats.getGlobalStats({})).dropCidrCount, before + 1);
  const gone = await eventually(async () => (await monitoring.stats.getGlobalStats({})).dropCidrCount === before, 6_000);
  t.true(gone, 'drop count back to its value before the rule');
  t.is(samples((await scrape(tokens['monitoring'])).body).get('couic_drop_cidr_total'), before);
});

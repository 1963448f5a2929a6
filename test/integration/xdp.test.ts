// The XDP data plane end to end, on a real kernel: network namespaces joined by a
// veth pair, the real daemon attached on the receiving end, real IPv4/IPv6 UDP and
// ping traffic. Needs root and BPF: skipped with the reason printed otherwise, and
// never skipped on CI as root (CI=true).
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { daemonConfigToml, runDaemonToExit } from '../helpers/daemon.js';
import {
  makeNetnsPair,
  ping,
  RECEIVER_V4,
  RECEIVER_V6,
  SENDER_V4,
  SENDER_V4_OTHER,
  SENDER_V6,
  SENDER_V6_OTHER,
  sh,
  xdpSkipReason,
  type NetnsPair,
} from '../helpers/netns.js';
import { sendTaggedUdp, sendUdp, startUdpReceiver, streamUdp, udpFrameBytes, type UdpReceiver, type VlanTag } from '../helpers/netns-udp.js';
import { dropSpec, eventually, ignoreSpec, nowSeconds, Policy } from '../helpers/rules.js';
import { makeTempDir } from '../helpers/tmp.js';
import { detachXdp } from '../../src/dataplane/xdp/xdp-detach.js';
import { actionCounters, DEFAULT_OBJECT_PATH, legacyAttachCommand, startXdpDaemon, tagCounters, type XdpDaemon } from '../helpers/xdp-daemon.js';

const skipReason = await xdpSkipReason(DEFAULT_OBJECT_PATH);
if (skipReason !== undefined) console.log(`xdp integration tests skipped: ${skipReason}`);
const test = (skipReason === undefined ? anyTest : anyTest.skip) as TestFn;

const PAYLOAD = 64;
const N = 20;
/** Echo request frame: 56 bytes of ping data + ICMP 8 + IP + Ethernet 14. */
const PING_V4 = 14 + 20 + 8 + 56;
const PING_V6 = 14 + 40 + 8 + 56;

/**
 * Sends `n` datagrams from `from`, then one marker from a source no rule covers, and
 * returns how many of the `n` arrived. The marker arrives after them (one veth, in
 * order), so once it is in, nothing more from `from` is on its way.
 */
async function probe(pair: NetnsPair, rx: UdpReceiver, from: string, n = N): Promise<number> {
  const v6 = from.includes(':');
  const to = v6 ? RECEIVER_V6 : RECEIVER_V4;
  const marker = v6 ? SENDER_V6_OTHER : SENDER_V4_OTHER;
  const before = rx.countFrom(from);
  const markersBefore = rx.countFrom(marker);
  await sendUdp(pair, from, to, n, PAYLOAD);
  await sendUdp(pair, marker, to, 1, PAYLOAD);
  if (from === marker) {
    // A source no rule covers: wait for all of them (and the marker) to be read.
    await rx.waitCount(from, before + n + 1, 10_000);
    return rx.countFrom(from) - before - 1;
  }
  if (!(await rx.waitCount(marker, markersBefore + 1, 10_000))) throw new Error(`marker from ${marker} never arrived`);
  return rx.countFrom(from) - before;
}

async function setup(t: ExecutionContext): Promise<{ pair: NetnsPair; rx: UdpReceiver; xdp: XdpDaemon }> {
  const pair = await makeNetnsPair(t);
  const rx = await startUdpReceiver(t, pair);
  const xdp = await startXdpDaemon(t, pair);
  return { pair, rx, xdp };
}

test('IPv4 and IPv6: no rule passes; /32, covering /24 and IPv6 /64 drop; ignore wins; deleted and expired pass; counters match', async (t) => {
  const { pair, rx, xdp } = await setup(t);
  const { api } = xdp;
  t.is((await api.stats.getGlobalStats({})).dataplane, 'xdp');
  t.regex(xdp.daemon.output(), /XDP: attached in (native|generic) mode/);
  const start = await actionCounters(api);
  const v4Frame = udpFrameBytes(4, PAYLOAD);
  const v6Frame = udpFrameBytes(6, PAYLOAD);

  t.is(await probe(pair, rx, SENDER_V4), N, 'IPv4, no rule: all pass');
  t.is(await probe(pair, rx, SENDER_V6), N, 'IPv6, no rule: all pass');
  t.is(await ping(pair, SENDER_V4, RECEIVER_V4, 3), 3);

  await api.rules.addRule({ rule: dropSpec(`${SENDER_V4}/32`, { tag: 'host' }) });
  t.is(await probe(pair, rx, SENDER_V4), 0, 'drop /32');
  t.is(await ping(pair, SENDER_V4, RECEIVER_V4, 3), 0, 'ping from a dropped /32');
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: `${SENDER_V4}/32` });
  t.is(await probe(pair, rx, SENDER_V4), N, 'deleted: passes');

  await api.rules.addRule({ rule: dropSpec('10.200.0.0/24', { tag: 'net' }) });
  t.is(await probe(pair, rx, SENDER_V4), 0, 'covering /24 drops');
  await api.rules.addRule({ rule: ignoreSpec('10.200.0.0/16', { tag: 'trusted' }) });
  t.is(await probe(pair, rx, SENDER_V4), N, 'ignore covering the source wins over drop');
  await api.rules.deleteRule({ policy: Policy.POLICY_IGNORE, cidr: '10.200.0.0/16' });
  t.is(await probe(pair, rx, SENDER_V4), 0, 'ignore deleted: dropped again');
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: '10.200.0.0/24' });
  t.is(await probe(pair, rx, SENDER_V4), N);

  await api.rules.addRule({ rule: dropSpec('fd00:200::/64', { tag: 'v6net' }) });
  t.is(await probe(pair, rx, SENDER_V6), 0, 'IPv6 /64 drops');
  t.is(await ping(pair, SENDER_V6, RECEIVER_V6, 3), 0, 'ping6 from a dropped /64');
  t.is(await probe(pair, rx, SENDER_V6_OTHER), N, 'a source outside the /64 passes');
  await api.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: 'fd00:200::/64' });
  t.is(await probe(pair, rx, SENDER_V6), N);

  await api.rules.addRule({ rule: dropSpec(`${SENDER_V4}/32`, { tag: 'brief', expiration: nowSeconds() + 2 }) });
  t.is(await probe(pair, rx, SENDER_V4), 0, 'expiring rule drops until it expires');
  const gone = await eventually(async () => (await api.stats.getGlobalStats({})).dropCidrCount === 0, 10_000);
  t.true(gone, 'rule expired');
  t.is(await probe(pair, rx, SENDER_V4), N, 'expired: passes');

  // Kernel counters: drops are exactly the frames sent from covered sources.
  const drop = await tagCounters(api, 'drop');
  t.deepEqual(drop.get('host'), { packets: N + 3, bytes: N * v4Frame + 3 * PING_V4 });
  t.deepEqual(drop.get('net'), { packets: 2 * N, bytes: 2 * N * v4Frame });
  t.deepEqual(drop.get('v6net'), { packets: N + 3, bytes: N * v6Frame + 3 * PING_V6 });
  t.deepEqual(drop.get('brief'), { packets: N, bytes: N * v4Frame });
  t.deepEqual((await tagCounters(api, 'ignore')).get('trusted'), { packets: N, bytes: N * v4Frame });
  const end = await actionCounters(api);
  t.is(end.drop.packets - start.drop.packets, 5 * N + 6);
  t.is(end.drop.bytes - start.drop.bytes, 4 * N * v4Frame + N * v6Frame + 3 * PING_V4 + 3 * PING_V6);
  // Passing: every probe that passed, its markers, the pings; plus any background.
  t.true(end.pass.packets - start.pass.packets >= 8 * N + 3 + 14);
});

test('VLAN: 802.1Q and 802.1ad+802.1Q (QinQ) tagged frames are parsed: dropped and counted, other sources pass', async (t) => {
  // Tagged frames are built by hand and sent on the veth (AF_PACKET): the test kernel
  // may lack 802.1Q interfaces, and only the XDP program needs to read the tags.
  const { pair, xdp } = await setup(t);
  const { api } = xdp;
  await api.rules.addRules({ rules: [dropSpec(`${SENDER_V4}/32`, { tag: 'vlan' }), dropSpec('fd00:200::/64', { tag: 'vlan6' })] });
  const cases: { name: string; tags: VlanTag[] }[] = [
    { name: '802.1Q', tags: [[0x8100, 100]] },
    { name: 'QinQ 802.1ad + 802.1Q', tags: [[0x88a8, 200], [0x8100, 100]] },
    { name: 'two 802.1Q', tags: [[0x8100, 300], [0x8100, 100]] },
  ];
  for (const { name, tags } of cases) {
    const before = await tagCounters(api, 'drop');
    const actionsBefore = await actionCounters(api);
    await sendTaggedUdp(pair, tags, SENDER_V4, RECEIVER_V4, N, PAYLOAD);
    await sendTaggedUdp(pair, tags, SENDER_V6, RECEIVER_V6, N, PAYLOAD);
    await sendTaggedUdp(pair, tags, SENDER_V4_OTHER, RECEIVER_V4, N, PAYLOAD);
    const after = await tagCounters(api, 'drop');
    const delta = (tag: string): { packets: number; bytes: number } => ({
      packets: (after.get(tag)?.packets ?? 0) - (before.get(tag)?.packets ?? 0),
      bytes: (after.get(tag)?.bytes ?? 0) - (before.get(tag)?.bytes ?? 0),
    });
    // Frame lengths include the tags: the program read past them to the IP source.
    t.deepEqual(delta('vlan'), { packets: N, bytes: N * udpFrameBytes(4, PAYLOAD, tags.length) }, name);
    t.deepEqual(delta('vlan6'), { packets: N, bytes: N * udpFrameBytes(6, PAYLOAD, tags.length) }, name);
    const actionsAfter = await actionCounters(api);
    t.is(actionsAfter.drop.packets - actionsBefore.drop.packets, 2 * N, `${name}: only the covered sources dropped`);
    t.true(actionsAfter.pass.packets - actionsBefore.pass.packets >= N, `${name}: the other source passed`);
  }
  // Three tags: beyond what the program parses, so it passes (never guessed).
  const before = await actionCounters(api);
  await sendTaggedUdp(pair, [[0x88a8, 1], [0x8100, 2], [0x8100, 3]], SENDER_V4, RECEIVER_V4, N, PAYLOAD);
  t.is((await actionCounters(api)).drop.packets, before.drop.packets, 'three tags: passes');
});

test('restart mid-stream: no packet from a dropped source gets through; pinned maps reconciled with the store', async (t) => {
  const { pair, rx, xdp } = await setup(t);
  const { api, daemon, pinDir } = xdp;
  await api.rules.addRules({ rules: [dropSpec(`${SENDER_V4}/32`, { tag: 'restart' }), dropSpec('fd00:200::/64', { tag: 'restart6' })] });
  t.is(await probe(pair, rx, SENDER_V4), 0);

  const dropped = streamUdp(t, pair, SENDER_V4, RECEIVER_V4, 2, PAYLOAD);
  const dropped6 = streamUdp(t, pair, SENDER_V6, RECEIVER_V6, 2, PAYLOAD);
  const other = streamUdp(t, pair, SENDER_V4_OTHER, RECEIVER_V4, 5, PAYLOAD);
  t.true(await rx.waitCount(SENDER_V4_OTHER, 20, 10_000), 'traffic flows');

  await daemon.stop();
  // While it is down: a stray entry the store does not have (as if a rule was deleted
  // by a daemon that crashed before updating the kernel). Reconciliation must remove it.
  // rule_record key: policy 0 (drop), family 4, /32, pad, 10.201.0.1, 12 zero bytes.
  const strayKey = ['00', '04', '20', '00', '0a', 'c9', '00', '01', ...Array.from({ length: 12 }, () => '00')];
  await sh('bpftool', ['map', 'update', 'pinned', join(pinDir, 'rule_record'), 'key', 'hex', ...strayKey, 'value', 'hex', '00', '00', '00', '00']);
  const otherWhileDown = rx.countFrom(SENDER_V4_OTHER);
  await daemon.restart();
  t.regex(daemon.output(), /program replaced atomically in the pinned link/);
  t.true(await daemon.waitForOutput(/"removed":1[^\n]*pinned maps reconciled with the store/), 'stray entry removed at start');
  t.true(await rx.waitCount(SENDER_V4_OTHER, otherWhileDown + 20, 10_000), 'the other source passes again');

  const sent = await dropped.stop();
  const sent6 = await dropped6.stop();
  await other.stop();
  t.true(sent > 100 && sent6 > 100, `streams ran through the restart (${sent}, ${sent6} datagrams)`);
  t.is(await probe(pair, rx, SENDER_V4_OTHER, 1), 1); // flushes the veth: the marker comes last
  t.is(rx.countFrom(SENDER_V4), 0, 'nothing from the dropped IPv4 source, before, during or after the restart');
  t.is(rx.countFrom(SENDER_V6), 0, 'nothing from the dropped IPv6 source');
  const drop = await tagCounters(api, 'drop');
  t.is(drop.get('restart')?.packets, sent + N, 'every datagram of the stream was dropped and counted');
  t.is(drop.get('restart6')?.packets, sent6);
  t.is((await api.stats.getGlobalStats({})).dropCidrCount, 2);
});

test('upgrade from the LPM-trie layout: the pinned tries are compiled into the tables and the program swapped in the pinned link, mid-stream, nothing from a dropped source gets through', async (t) => {
  const { pair, rx, xdp } = await setup(t);
  const { api, daemon, pinDir } = xdp;
  // The store has the rules (as it would before the upgrade); then the old layout runs in their place.
  await api.rules.addRules({ rules: [dropSpec(`${SENDER_V4}/32`, { tag: 'legacy' }), dropSpec('fd00:200::/64', { tag: 'legacy' })] });
  await daemon.stop();
  await detachXdp(pinDir);
  const [command, ...args] = [...pair.nsenter(pair.receiver), ...legacyAttachCommand(pinDir, pair.receiverIface, [`${SENDER_V4}/32`, 'fd00:200::/64'], 'legacy')];
  await sh(command ?? 'nsenter', args);
  t.is(await probe(pair, rx, SENDER_V4), 0, 'the old program drops');
  const droppedBefore = rx.countFrom(SENDER_V4);

  const dropped = streamUdp(t, pair, SENDER_V4, RECEIVER_V4, 2, PAYLOAD);
  const dropped6 = streamUdp(t, pair, SENDER_V6, RECEIVER_V6, 2, PAYLOAD);
  const other = streamUdp(t, pair, SENDER_V4_OTHER, RECEIVER_V4, 5, PAYLOAD);
  const otherBefore = rx.countFrom(SENDER_V4_OTHER);
  t.true(await rx.waitCount(SENDER_V4_OTHER, otherBefore + 10, 10_000), 'traffic flows');
  await daemon.restart();
  t.regex(daemon.output(), /upgraded from the LPM-trie layout/);
  t.regex(daemon.output(), /program replaced atomically in the pinned link/);
  t.true(await daemon.waitForOutput(/"removed":0[^\n]*pinned maps reconciled with the store/));
  const otherAfter = rx.countFrom(SENDER_V4_OTHER);
  t.true(await rx.waitCount(SENDER_V4_OTHER, otherAfter + 10, 10_000), 'the other source passes');
  const sent = await dropped.stop();
  const sent6 = await dropped6.stop();
  await other.stop();
  t.true(sent > 50 && sent6 > 50, `streams ran through the upgrade (${sent}, ${sent6})`);
  t.is(await probe(pair, rx, SENDER_V4_OTHER, 1), 1);
  t.is(rx.countFrom(SENDER_V4), droppedBefore, 'nothing from the dropped IPv4 source before, during or after the upgrade');
  t.is(rx.countFrom(SENDER_V6), 0, 'nothing from the dropped IPv6 source');
  await t.throwsAsync(access(join(pinDir, 'drop_v4')), undefined, 'the old tries are unpinned');
  const drop = await tagCounters(api, 'drop');
  t.true((drop.get('legacy')?.packets ?? 0) >= sent + sent6, 'the tag counters continue across the upgrade');
  t.is((await api.stats.getGlobalStats({})).dropCidrCount, 2);
});

test('start errors: an interface that does not exist stops the daemon with one clear line', async (t) => {
  const dir = await makeTempDir(t, 'couic-xdp-');
  const configPath = join(dir, 'couic.toml');
  await writeFile(
    configPath,
    daemonConfigToml({
      workingDir: join(dir, 'work'),
      socketPath: join(dir, 'couic.sock'),
      rootExtra: 'ifaces = ["nosuchif0"]',
      configExtra: `[xdp]\npin_dir = "/sys/fs/bpf/couic-test-noif-${process.pid}"`,
    }),
    { mode: 0o600 },
  );
  const run = await runDaemonToExit(configPath);
  t.is(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', /^couic: cannot start: ifaces: "nosuchif0": no such network interface/);
});

// Scenario "dnsdist-apply": rules/s the bridge applies to a real dnsdist 1.7.3 with
// 10,000 and 100,000 rules held. One couic daemon, one dnsdist, one consume-only
// couic-dnsdist (batch 1000 ms). N host drop rules are added to couic (AddRules, 10,000
// per call, 1 h expiry); the figure is N / time from the first AddRules call until
// dnsdist refuses the last address (the Watch delivers in order, batches apply in
// order). Then one rule is deleted: the time until dnsdist answers it again is a full
// table rebuild (1.7.3 cannot lift one block), and a publish poll (showDynBlocks of
// the whole table) is timed too.
// Baseline (same run, same addresses, a fresh dnsdist): the same N addresses given to
// dnsdist directly through the console in one addDynBlocks (what the bridge's Lua
// costs at best, with no couic, no Watch, no reconciler). The bridge figure includes
// couic's own ingestion of the rules, so the ratio is the whole path against dnsdist alone.
//
// Run: `npm run build && node --import tsx bench/dnsdist-apply.ts [--quick | --capacity] [--record]`.
import { fileURLToPath } from 'node:url';
import { addClientWithCli } from '../test/helpers/cluster.js';
import { connectUnix } from '../test/helpers/clients.js';
import { startDaemon } from '../test/helpers/daemon.js';
import { dnsdistMissing, query, startBridge, startDnsdist, type Dnsdist } from '../test/helpers/dnsdist.js';
import { dropSpec, Policy } from '../test/helpers/rules.js';
import type { Scope } from '../test/helpers/tmp.js';
import { ConsoleClient } from '../src/dnsdist/console/console-client.js';
import { ConsoleDnsdistControl } from '../src/dnsdist/console-dnsdist-control.js';
import { machineInfo } from './lib/machine.js';
import { appendSection, formatInt, renderSection, type Figure, type ScenarioResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const WAIT_LIMIT_MS = 600_000;

function scope(): Scope & { close(): Promise<void> } {
  const teardowns: (() => unknown)[] = [];
  return {
    teardown: (fn) => teardowns.push(fn),
    passed: true,
    log: (...values) => console.error(...values),
    close: async () => {
      for (const fn of teardowns.reverse()) await fn();
    },
  };
}

/** Distinct rule addresses (10.0.0.0/8, 2001:db8::/32: only ever rules, no packet is sent to or from them). */
function address(i: number, ipv6: boolean): string {
  if (ipv6) return `2001:db8::${((i >> 16) & 0xffff).toString(16)}:${(i & 0xffff).toString(16)}`;
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

async function until(dnsdist: Dnsdist, source: string, answer: 'REFUSED' | 'NOERROR'): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < WAIT_LIMIT_MS) {
    if ((await query(dnsdist.dnsPort, source, 'bench.example', 300)) === answer) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${source}: no ${answer} from dnsdist within ${WAIT_LIMIT_MS} ms`);
}

async function control(dnsdist: Dnsdist): Promise<ConsoleDnsdistControl> {
  return new ConsoleDnsdistControl(await ConsoleClient.connect({ host: '127.0.0.1', port: dnsdist.consolePort, key: new Uint8Array(Buffer.from(dnsdist.key, 'base64')), commandTimeoutMs: WAIT_LIMIT_MS }));
}

interface Run {
  readonly bridgeMs: number;
  readonly directMs: number;
  readonly rebuildMs: number;
  readonly pollMs: number;
  readonly pingMs: number;
}

async function run(count: number, mixed: boolean): Promise<Run> {
  const s = scope();
  try {
    // The probe address is the last one of the set, a 127/8 address the test can send from.
    // Mixed: the warm-up rule and the probe are IPv4 too, so each family holds exactly count / 2.
    const v4 = mixed ? (count >> 1) - 2 : count - 1;
    const v6 = mixed ? count >> 1 : 0;
    const addresses = Array.from({ length: v4 + v6 }, (_, i) => (i < v4 ? address(i, false) : address(i - v4, true)));
    const probe = '127.0.50.1';
    addresses.push(probe);

    // Baseline: a fresh dnsdist, the same addresses straight through the console.
    const bare = await startDnsdist(s);
    const bareControl = await control(bare);
    const d0 = performance.now();
    await bareControl.addHostBlocks([{ items: addresses, seconds: 3600, reason: 'bench', action: 'DNSAction.Refused' }]);
    await until(bare, probe, 'REFUSED');
    const directMs = performance.now() - d0;
    bareControl.close();
    await bare.kill();

    const daemon = await startDaemon(s, { nodeId: 'bench', loggingExtra: 'level = "warn"' });
    const clients = connectUnix(s, daemon.socketPath, daemon.adminToken);
    const { token } = await addClientWithCli(daemon, 'bridge', 'clientro');
    const dnsdist = await startDnsdist(s);
    await startBridge(s, { dnsdist, couicSocket: daemon.socketPath, token, publish: false, consume: true, batchIntervalMs: 1000 });
    // Warm-up: the bridge has connected and synced.
    await clients.rules.addRules({ rules: [dropSpec('127.0.51.1/32')] });
    await until(dnsdist, '127.0.51.1', 'REFUSED');

    const expiration = Math.floor(Date.now() / 1000) + 3600;
    const b0 = performance.now();
    for (let i = 0; i < addresses.length; i += 10_000) {
      await clients.rules.addRules({ rules: addresses.slice(i, i + 10_000).map((a) => dropSpec(`${a}/${a.includes(':') ? 128 : 32}`, { tag: 'bench', expiration })) });
    }
    await until(dnsdist, probe, 'REFUSED');
    const bridgeMs = performance.now() - b0;

    const r0 = performance.now();
    await clients.rules.deleteRule({ policy: Policy.POLICY_DROP, cidr: `${probe}/32` });
    await until(dnsdist, probe, 'NOERROR');
    const rebuildMs = performance.now() - r0;

    const probeControl = await control(dnsdist);
    const p0 = performance.now();
    const rows = await probeControl.listDynBlocks();
    const pollMs = performance.now() - p0;
    const q0 = performance.now();
    await probeControl.ping();
    const pingMs = performance.now() - q0;
    probeControl.close();
    if (rows.length < count - 1) throw new Error(`dnsdist holds ${rows.length} blocks, expected ${count}`);
    return { bridgeMs, directMs, rebuildMs, pollMs, pingMs };
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  const missing = dnsdistMissing();
  if (missing !== undefined) throw new Error(missing);
  const quick = process.argv.includes('--quick');
  const record = process.argv.includes('--record');
  // --capacity: the product's size, 262,144 IPv4 + 262,144 IPv6 drop rules.
  const capacity = process.argv.includes('--capacity');
  const sizes = capacity ? [524_288] : quick ? [1_000, 5_000] : [10_000, 100_000];
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const count of sizes) {
    const r = await run(count, capacity);
    const one = (v: number) => summarize([v]);
    figures.push({
      name: `bridge applies ${formatInt(count)} rules${capacity ? ' (half IPv6)' : ''} to dnsdist (AddRules -> refused)`,
      kind: 'throughput',
      unit: 'rules/s',
      couic: one(count / (r.bridgeMs / 1000)),
      baseline: one(count / (r.directMs / 1000)),
      baselineName: 'same addresses, one addDynBlocks through the console on a fresh dnsdist',
    });
    notes.push(
      `${formatInt(count)} held: applied in ${formatInt(r.bridgeMs)} ms (direct ${formatInt(r.directMs)} ms); one delete lifted (full table rebuild) in ${formatInt(r.rebuildMs)} ms; ` +
        `one publish poll (showDynBlocks of the table + parse) ${formatInt(r.pollMs)} ms vs a console round trip (showVersion) ${r.pingMs.toFixed(1)} ms`,
    );
  }
  notes.push('the bridge figure includes couic ingesting the rules (AddRules, 10,000 per call) and its Watch; the baseline is dnsdist alone; one run per size; couic daemon (warn log), dnsdist 1.7.3 and a consume-only couic-dnsdist (batch 1000 ms, action refused) on one 2-core machine; rules are /32 (and, with --capacity, /128) drops with a 1 h expiry and one tag');
  const result: ScenarioResult = { scenario: 'dnsdist-apply', figures, notes };
  const section = renderSection({ machine: machineInfo(REPO_ROOT), mode: quick ? 'quick' : 'full', command: `node --import tsx bench/dnsdist-apply.ts${quick ? ' --quick' : ''}${capacity ? ' --capacity' : ''}`, results: [result] });
  process.stdout.write(section);
  if (record) await appendSection(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), section);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

// Crash at scale: a daemon holding 100,000 rules is killed (SIGKILL) while it writes a
// snapshot (the snapshot's .tmp file is on disk when the kill lands); after a restart
// every rule is back with its last acknowledged tag (or the tag of the one call that
// was in flight), and the daemon answers.
import test, { type ExecutionContext } from 'ava';
import { watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCidr } from '../../src/domain/cidr.js';
import { collect, connectUnix, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, Policy, v4Hosts, v6Hosts } from '../helpers/rules.js';

const RULES_PER_FAMILY = 50_000;
const BATCH = 10_000;
/** Rounds of re-tagging per attempt before a snapshot must have started (bounded loop). */
const MAX_ROUNDS = 40;
const MAX_ATTEMPTS = 4;

// Canonical text, as the daemon lists it.
const cidrs = [...v4Hosts(RULES_PER_FAMILY, 30), ...v6Hosts(RULES_PER_FAMILY, 7)].map((c) => parseCidr(c).text);

async function retag(api: CouicClients, tag: string, from: number): Promise<void> {
  const slice = cidrs.slice(from, from + BATCH);
  await api.rules.addRules({ rules: slice.map((c) => dropSpec(c, { tag })) });
}

async function tmpFiles(stateDir: string): Promise<string[]> {
  return (await readdir(stateDir)).filter((name) => name.endsWith('.tmp'));
}

/**
 * Re-tags batches until a snapshot starts; kills the daemon the moment its .tmp file
 * appears. Returns the tags acknowledged per batch start, the in-flight tag, and whether
 * the .tmp was still there after the kill (so the kill did land mid-snapshot).
 */
async function killDuringSnapshot(
  daemon: Daemon,
  api: CouicClients,
  acked: Map<number, string>,
  round0: number,
): Promise<{ inFlight: Map<number, string>; midSnapshot: boolean; rounds: number }> {
  const stateDir = join(daemon.workingDir, 'state');
  let killing: Promise<unknown> | undefined;
  const watcher = watch(stateDir, (_event, name) => {
    if (killing === undefined && name !== null && name.endsWith('.tmp')) killing = daemon.kill();
  });
  const inFlight = new Map<number, string>();
  let rounds = 0;
  try {
    for (; rounds < MAX_ROUNDS && killing === undefined; rounds++) {
      const from = ((round0 + rounds) * BATCH) % cidrs.length;
      const tag = `r${round0 + rounds}`;
      inFlight.set(from, tag);
      try {
        await retag(api, tag, from);
      } catch {
        break; // the kill landed during this call
      }
      if (killing === undefined) {
        acked.set(from, tag);
        inFlight.delete(from);
      }
    }
  } finally {
    watcher.close();
  }
  if (killing === undefined) return { inFlight, midSnapshot: false, rounds };
  await killing;
  return { inFlight, midSnapshot: (await tmpFiles(stateDir)).length > 0, rounds };
}

test('kill -9 during a snapshot of 100,000 rules: after restart every rule is there', async (t: ExecutionContext) => {
  t.timeout(10 * 60_000);
  const daemon = await startDaemon(t, { configExtra: '[persistence]\nsnapshot_every = 1000\nflush_interval_ms = 5' });
  let api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  const acked = new Map<number, string>();
  for (let from = 0; from < cidrs.length; from += BATCH) {
    await retag(api, 'r-load', from);
    acked.set(from, 'r-load');
  }
  // Let the snapshots started while loading finish: the kills below target a snapshot of the full state.
  for (let i = 0; i < 3_000 && (await tmpFiles(join(daemon.workingDir, 'state'))).length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  let round = 0;
  let caught = false;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && !caught; attempt++) {
    const { inFlight, midSnapshot, rounds } = await killDuringSnapshot(daemon, api, acked, round);
    round += rounds + 1;
    t.log(`attempt ${attempt + 1}: ${rounds} rounds, killed mid-snapshot: ${midSnapshot}`);
    caught = midSnapshot;
    await daemon.restart();
    api = connectUnix(t, daemon.socketPath, daemon.adminToken);
    const entries = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [], includeSets: false }));
    t.is(entries.length, cidrs.length, 'every rule is back');
    const tagOf = new Map(entries.map((e) => [e.cidr, e.tag]));
    const wrong: string[] = [];
    for (const [from, tag] of acked) {
      const pending = inFlight.get(from);
      for (const cidr of cidrs.slice(from, from + BATCH)) {
        const got = tagOf.get(cidr);
        if (got !== tag && got !== pending) wrong.push(`${cidr}: ${String(got)} (acked ${tag}, in flight ${String(pending)})`);
      }
    }
    t.deepEqual(wrong.slice(0, 5), [], `${wrong.length} rules lost their acknowledged tag`);
    // The in-flight batch either fully applied or not: record what is there now as acked.
    for (const [from] of inFlight) acked.set(from, tagOf.get(cidrs[from] ?? '') ?? '');
  }
  t.true(caught, 'one of the kills landed while a snapshot was being written');
});

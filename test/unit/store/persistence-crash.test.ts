// kill -9 in the middle of a stream of acknowledged changes: after reload, every
// change acknowledged before the kill is there (a put present with its exact value, a
// delete applied), whatever the journal or a snapshot was doing at that instant.
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ruleKey, type RuleEntry } from '../../../src/domain/entry.js';
import { listDir } from '../../../src/store/journal-files.js';
import { JournalPersistence } from '../../../src/store/journal-persistence.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { captureLogger, crashChange, liveEntries, numberedEntry } from './fixtures/persistence-helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/persistence-crash-writer.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the writer until it has acknowledged `killAfter` changes, SIGKILLs it, returns every ack it printed. */
function runAndKill(dir: string, killAfter: number): Promise<Set<number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir, '50'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Set<number>();
  let partial = '';
  let stderr = '';
  let killed = false;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
    if (!killed && acked.size >= killAfter) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' comes after stdout is drained: acks printed just before the kill still count.
    child.on('close', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited on its own (${String(signal)}): ${stderr}`));
    });
  });
}

for (const killAfter of [120, 450, 1_000]) {
  test(`kill -9 after ${killAfter} acknowledged changes loses none of them`, async (t) => {
    const dir = join(await makeTempDir(t, 'couic-crash-'), 'state');
    const acked = await runAndKill(dir, killAfter);
    t.true(acked.size >= killAfter);

    const logger = captureLogger();
    const persistence = await JournalPersistence.open({ dir, logger, snapshotSource: () => [] });
    t.teardown(() => persistence.close());
    const loaded = new Map<string, RuleEntry>(liveEntries(await persistence.load()).map((e) => [ruleKey(e.policy, e.cidr), e]));
    const keyOf = (n: number): string => ruleKey('drop', numberedEntry(n).cidr);
    const missing: number[] = [];
    const resurrected: number[] = [];
    for (const n of acked) {
      if (n % 4 === 3) {
        if (loaded.has(keyOf(n - 1))) resurrected.push(n - 1);
        continue;
      }
      const entry = loaded.get(keyOf(n));
      if (entry !== undefined) t.deepEqual(entry, numberedEntry(n, { createdAt: n }));
      // Change n+1 deletes it when (n+1) % 4 === 3: acknowledged or not, it may be durable.
      else if ((n + 1) % 4 !== 3) missing.push(n);
    }
    t.deepEqual(missing, [], 'acknowledged puts lost');
    t.deepEqual(resurrected, [], 'acknowledged deletes undone');
    // Nothing that was never written shows up.
    for (const entry of loaded.values()) t.deepEqual(entry, crashPutValue(entry.createdAt));
    const listing = await listDir(dir);
    t.log(
      `acked ${acked.size}, loaded ${loaded.size}, segments ${listing.segments.join(',')}, ` +
        `snapshots ${listing.snapshots.join(',')}, warnings ${logger.warnings().length}`,
    );
  });
}

function crashPutValue(n: number): RuleEntry | undefined {
  const change = crashChange(n);
  return change.kind === 'live' ? change.entry : undefined;
}

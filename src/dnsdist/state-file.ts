// The consumer's state on disk: the Watch cursor together with the rules it covers, so
// a restarted bridge resumes the stream instead of taking a full snapshot. Written
// atomically (temp file, fsync, rename): a crash leaves the old or the new file, never
// half of one. A rule set newer than its cursor is fine: replaying the changes after
// the cursor is idempotent (latest state per key wins, removals of absent keys are no-ops).
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../files/atomic-file.js';
import type { MirroredRule, RulePolicy } from './mirrored-rule.js';

export interface ConsumerState {
  readonly cursor: string;
  readonly rules: readonly MirroredRule[];
}

interface StateFileV1 {
  version: 1;
  cursor: string;
  /** [policy, cidr, tag, expiration] per rule, compact for 500k rules. */
  rules: [RulePolicy, string, string, number][];
}

export async function writeStateFile(path: string, state: ConsumerState): Promise<void> {
  const body: StateFileV1 = { version: 1, cursor: state.cursor, rules: state.rules.map((r) => [r.policy, r.cidr, r.tag, r.expiration]) };
  await writeFileAtomic(path, JSON.stringify(body), { mode: 0o600, durable: true });
}

/** The saved state; undefined when there is none. Throws on a damaged file (the caller starts afresh). */
export async function readStateFile(path: string): Promise<ConsumerState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<StateFileV1>;
  if (parsed.version !== 1 || typeof parsed.cursor !== 'string' || !Array.isArray(parsed.rules)) {
    throw new Error(`${path}: not a couic-dnsdist state file`);
  }
  const rules: MirroredRule[] = [];
  for (const item of parsed.rules) {
    const [policy, cidr, tag, expiration] = item;
    if ((policy !== 'drop' && policy !== 'ignore') || typeof cidr !== 'string' || typeof tag !== 'string' || typeof expiration !== 'number') {
      throw new Error(`${path}: damaged rule entry`);
    }
    rules.push({ policy, cidr, tag, expiration });
  }
  return { cursor: parsed.cursor, rules };
}

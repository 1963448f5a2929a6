// Consume, first half: keeps a RuleMirror equal to couic's dynamic rules by following
// its Watch stream. A snapshot is collected aside and swapped in whole at
// snapshot_end (so a reconnect never shows a half-empty rule set); `resumed` keeps the
// mirror loaded from the state file. `ready` turns true once the mirror holds a full
// state; from then on every change bumps the mirror's change counter.
import { Policy, type Entry } from '../generated/couic/v1/entry.js';
import type { WatchEvent } from '../generated/couic/v1/replication.js';
import type { CouicPort } from './couic-port.js';
import { ruleKey, RuleMirror, type MirroredRule, type RulePolicy } from './mirrored-rule.js';
import type { ConsumerState } from './state-file.js';

export type ConsumerEvent =
  | { readonly type: 'snapshot'; readonly rules: number }
  | { readonly type: 'resumed'; readonly rules: number };

export class WatchConsumer {
  readonly mirror = new RuleMirror();
  private cursorValue = '';
  private ready = false;
  private snapshot: Map<string, MirroredRule> | undefined;
  /** Bumped when the cursor moves, so the state is saved only when it changed. */
  private cursorChanges = 0;

  constructor(
    private readonly couic: CouicPort,
    private readonly onEvent: (event: ConsumerEvent) => void = () => undefined,
  ) {}

  /** Starts from a saved state (its cursor is tried first). */
  restore(state: ConsumerState): void {
    this.mirror.replaceAll(state.rules);
    this.cursorValue = state.cursor;
  }

  get isReady(): boolean {
    return this.ready;
  }

  get cursor(): string {
    return this.cursorValue;
  }

  get stateVersion(): number {
    return this.cursorChanges + this.mirror.changes;
  }

  state(): ConsumerState {
    return { cursor: this.cursorValue, rules: [...this.mirror.values()] };
  }

  /**
   * One Watch stream, until it ends or fails; resolves with the error (undefined when
   * the stream simply ended). The caller retries with backoff.
   */
  async runOnce(signal: AbortSignal): Promise<unknown> {
    this.snapshot = undefined;
    try {
      for await (const events of this.couic.watch(this.cursorValue, signal)) {
        for (const event of events) this.apply(event);
      }
      return undefined;
    } catch (error) {
      return error;
    }
  }

  /** Applies one event (public for tests). */
  apply(event: WatchEvent): void {
    const e = event.event;
    if (e === undefined) return;
    switch (e.$case) {
      case 'snapshotBegin':
        this.snapshot = new Map();
        break;
      case 'upsert': {
        const rule = e.value.entry === undefined ? undefined : toRule(e.value.entry);
        if (rule === undefined) break;
        if (this.snapshot !== undefined) this.snapshot.set(ruleKey(rule.policy, rule.cidr), rule);
        else this.mirror.upsert(rule);
        break;
      }
      case 'removal': {
        const policy = toPolicy(e.value.policy);
        if (policy === undefined) break;
        if (this.snapshot !== undefined) this.snapshot.delete(ruleKey(policy, e.value.cidr));
        else this.mirror.remove(policy, e.value.cidr);
        break;
      }
      case 'snapshotEnd':
        this.mirror.replaceAll(this.snapshot?.values() ?? []);
        this.snapshot = undefined;
        this.moveCursor(e.value.cursor);
        this.ready = true;
        this.onEvent({ type: 'snapshot', rules: this.mirror.size });
        break;
      case 'resumed':
        this.moveCursor(e.value.cursor);
        this.ready = true;
        this.onEvent({ type: 'resumed', rules: this.mirror.size });
        break;
      case 'checkpoint':
        this.moveCursor(e.value.cursor);
        break;
    }
  }

  private moveCursor(cursor: string): void {
    if (cursor === '' || cursor === this.cursorValue) return;
    this.cursorValue = cursor;
    this.cursorChanges++;
  }
}

function toPolicy(policy: Policy): RulePolicy | undefined {
  if (policy === Policy.POLICY_DROP) return 'drop';
  if (policy === Policy.POLICY_IGNORE) return 'ignore';
  return undefined;
}

function toRule(entry: Entry): MirroredRule | undefined {
  const policy = toPolicy(entry.policy);
  if (policy === undefined) return undefined;
  return { policy, cidr: entry.cidr, tag: entry.tag, expiration: entry.expiration };
}

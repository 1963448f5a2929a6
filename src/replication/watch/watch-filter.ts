// What one watcher asked for: a policy (or both) and tag patterns with the `list -t`
// semantics. Decides which records the watcher holds.
import { isExpired } from '../../domain/entry.js';
import type { Policy } from '../../domain/policy.js';
import { recordPolicy, type ReplicatedRecord } from '../../domain/replicated-record.js';
import { compileTagFilter, type TagMatcher } from '../../store/tag-filter.js';

export class WatchFilter {
  private readonly tagMatches: TagMatcher;
  /** "drop " or "ignore ": keys start with it (built once, checked per change). */
  private readonly keyPrefix: string | undefined;

  constructor(
    /** Undefined = both policies. */
    readonly policy: Policy | undefined,
    tagPatterns: readonly string[] = [],
  ) {
    this.tagMatches = compileTagFilter(tagPatterns);
    this.keyPrefix = policy === undefined ? undefined : `${policy} `;
  }

  /** Whether a store key ("drop 10.0.0.0/8") is of a watched policy. */
  coversKey(key: string): boolean {
    return this.keyPrefix === undefined || key.startsWith(this.keyPrefix);
  }

  coversRecord(record: ReplicatedRecord): boolean {
    return this.policy === undefined || recordPolicy(record) === this.policy;
  }

  /** A live record of a watched policy whose tag matches (expiry not considered). */
  matchesLive(record: ReplicatedRecord | undefined): boolean {
    return record !== undefined && record.kind === 'live' && this.coversRecord(record) && this.tagMatches(record.entry.tag);
  }

  /** What the watcher should hold for this record at `nowSeconds`. */
  holds(record: ReplicatedRecord | undefined, nowSeconds: number): boolean {
    return this.matchesLive(record) && record?.kind === 'live' && !isExpired(record.entry, nowSeconds);
  }
}

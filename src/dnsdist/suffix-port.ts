// Domain-suffix blocks (addDynBlockSMT) between a dnsdist and couic. couic has no
// suffix rules yet (they come with the compact rule store), so there is nowhere to
// publish a dnsdist's suffix blocks and nothing to consume: this port is the seam the
// bridge calls, and NoSuffixRules is the only implementation today. It publishes
// nothing and says so (once), instead of pretending.
export interface SuffixBlock {
  /** Normalised name (domain-suffix.ts), e.g. "attack.example". */
  readonly name: string;
  /** Absolute UNIX seconds. */
  readonly expiration: number;
  readonly reason: string;
}

export interface SuffixRulePort {
  /** Publish the dnsdist's own suffix blocks to couic. */
  publish(blocks: readonly SuffixBlock[]): Promise<void>;
  readonly supported: boolean;
}

export class NoSuffixRules implements SuffixRulePort {
  readonly supported = false;
  private warned = false;

  constructor(private readonly warn: (message: string) => void) {}

  async publish(blocks: readonly SuffixBlock[]): Promise<void> {
    if (blocks.length === 0 || this.warned) return;
    this.warned = true;
    this.warn(`dnsdist has ${blocks.length} suffix block(s); couic has no domain-suffix rules yet, so publish_suffixes publishes nothing`);
  }
}

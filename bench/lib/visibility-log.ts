// When each watched CIDR first shows up on a node's Watch stream (performance.now() of
// this process): the "visible" end of the propagation benchmarks. Keeps one timestamp
// per CIDR, not the events (test/helpers/watch-recorder.ts keeps the events for tests).
import type { CouicClients } from '../../src/cli/connection.js';
import { Policy } from '../../src/generated/couic/v1/entry.js';

export class VisibilityLog {
  readonly seenAt = new Map<string, number>();
  private readonly controller = new AbortController();
  private snapshotDone = false;
  private failure: unknown;
  private readonly done: Promise<void>;

  constructor(api: CouicClients, tag: string) {
    const stream = api.replication.watch({ policy: Policy.POLICY_DROP, tags: [tag], cursor: '' }, { signal: this.controller.signal });
    this.done = (async () => {
      try {
        for await (const response of stream) {
          const now = performance.now();
          for (const { event } of response.events) {
            if (event?.$case === 'upsert' && event.value.entry !== undefined && !this.seenAt.has(event.value.entry.cidr)) {
              this.seenAt.set(event.value.entry.cidr, now);
            } else if (event?.$case === 'snapshotEnd') {
              this.snapshotDone = true;
            }
          }
        }
      } catch (error) {
        if (!this.controller.signal.aborted) this.failure = error;
      }
    })();
  }

  /** Whether the initial snapshot has been received; throws if the stream failed. */
  ready(): boolean {
    if (this.failure !== undefined) throw this.failure instanceof Error ? this.failure : new Error(String(this.failure));
    return this.snapshotDone;
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

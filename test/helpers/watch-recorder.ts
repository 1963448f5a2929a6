// Records a Watch stream in the background so integration tests can wait (bounded
// polling, no fixed sleeps) for the events they expect.
import type { WatchEvent, WatchRequest } from '../../src/generated/couic/v1/replication.js';
import type { CouicClients } from './clients.js';
import type { Scope } from './tmp.js';

export interface WatchRecorder {
  readonly events: WatchEvent[];
  /** Set when the stream failed (not when we closed it). */
  error(): unknown;
  /** Waits until `predicate(events)` holds; throws with the events seen after `timeoutMs`. */
  waitFor(what: string, predicate: (events: readonly WatchEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  /** The cursor of the last snapshot_end or checkpoint received. */
  lastCursor(): string | undefined;
  close(): void;
}

export function recordWatch(t: Scope, clients: CouicClients, request: Partial<WatchRequest> = {}): WatchRecorder {
  const controller = new AbortController();
  const events: WatchEvent[] = [];
  let failure: unknown;
  const stream = clients.replication.watch({ policy: 0, tags: [], cursor: '', ...request }, { signal: controller.signal });
  const done = (async () => {
    try {
      for await (const response of stream) events.push(...response.events);
    } catch (error) {
      if (!controller.signal.aborted) failure = error;
    }
  })();
  t.teardown(async () => {
    controller.abort();
    await done;
  });
  return {
    events,
    error: () => failure,
    async waitFor(what, predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        if (failure !== undefined) throw new Error(`watch failed while waiting for ${what}: ${String(failure)}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events.map(summarize))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    lastCursor() {
      for (let i = events.length - 1; i >= 0; i--) {
        const e = events[i]?.event;
        if (e?.$case === 'snapshotEnd' || e?.$case === 'checkpoint') return e.value.cursor;
      }
      return undefined;
    },
    close: () => controller.abort(),
  };
}

/** "+drop 10.0.0.0/8", "-drop 10.0.0.0/8 expired", "begin", "end", "checkpoint", "resumed". */
export function summarize(event: WatchEvent): string {
  const e = event.event;
  switch (e?.$case) {
    case 'snapshotBegin':
      return `begin:${e.value.reason}`;
    case 'upsert':
      return `+${e.value.entry?.policy === 2 ? 'ignore' : 'drop'} ${e.value.entry?.cidr ?? '?'}`;
    case 'removal':
      return `-${e.value.policy === 2 ? 'ignore' : 'drop'} ${e.value.cidr} ${['?', 'deleted', 'expired', 'collected', 'filtered'][e.value.reason] ?? '?'}`;
    case 'snapshotEnd':
      return 'end';
    case 'checkpoint':
      return 'checkpoint';
    case 'resumed':
      return 'resumed';
    default:
      return '?';
  }
}

/** Summaries of the change events only (upserts and removals). */
export function changes(events: readonly WatchEvent[]): string[] {
  return events.filter((e) => e.event?.$case === 'upsert' || e.event?.$case === 'removal').map(summarize);
}

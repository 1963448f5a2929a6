// One couic-dnsdist bridge: wires the Watch consumer, the reconciler/applier (consume)
// and the publisher to one dnsdist console and one couic daemon. Two timers drive it:
// the batch tick (at most one round of dnsdist changes per batch interval) and the
// poll tick (publish). A dnsdist or couic that fails is retried with jittered, capped
// backoff; a dnsdist that comes back (or restarted: the console connection broke) is
// resynchronised fully, and so is every new Watch snapshot.
import { Backoff } from '../domain/backoff.js';
import { BlockApplier, type SyncReport } from './block-applier.js';
import { BRIDGE_REASON_PREFIX, type BridgeOptions } from './bridge-options.js';
import { ConsoleCommandError } from './console/console-port.js';
import type { CouicPort } from './couic-port.js';
import { cachedRuleCidrParser, computeDesiredBlocks } from './desired-blocks.js';
import type { DnsdistControl } from './dnsdist-control.js';
import { selectPublications } from './publisher.js';
import { readStateFile, writeStateFile } from './state-file.js';
import type { SuffixRulePort } from './suffix-port.js';
import { WatchConsumer, type ConsumerEvent } from './watch-consumer.js';

export type BridgeEvent =
  | { readonly type: 'dnsdist-connected' }
  | { readonly type: 'dnsdist-failed'; readonly error: string; readonly retryInMs: number }
  | { readonly type: 'couic-watch'; readonly event: ConsumerEvent }
  | { readonly type: 'couic-watch-ended'; readonly error: string | undefined; readonly retryInMs: number }
  | { readonly type: 'synced'; readonly report: SyncReport; readonly rules: number }
  | { readonly type: 'published'; readonly rules: number }
  | { readonly type: 'publish-failed'; readonly error: string }
  | { readonly type: 'state-saved'; readonly rules: number }
  | { readonly type: 'state-unreadable'; readonly error: string }
  | { readonly type: 'warning'; readonly message: string };

export interface BridgeDeps {
  readonly connectDnsdist: () => Promise<DnsdistControl>;
  readonly couic: CouicPort;
  readonly suffixes: SuffixRulePort;
  readonly nowMs?: () => number;
  readonly onEvent?: (event: BridgeEvent) => void;
  readonly random?: () => number;
}

export class Bridge {
  private control: DnsdistControl | undefined;
  private connecting: Promise<DnsdistControl | undefined> | undefined;
  private dnsdistRetryAt = 0;
  private readonly dnsdistBackoff: Backoff;
  private readonly couicBackoff: Backoff;
  readonly consumer: WatchConsumer;
  private readonly applier: BlockApplier;
  private published = new Map<string, number>();
  private syncedChanges = -1;
  private nextExpiryMs: number | undefined;
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private savedVersion = -1;
  private consumeLoop: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly emit: (event: BridgeEvent) => void;
  private readonly parseCidr = cachedRuleCidrParser();

  constructor(
    private readonly options: BridgeOptions,
    private readonly deps: BridgeDeps,
  ) {
    this.now = deps.nowMs ?? Date.now;
    this.emit = deps.onEvent ?? (() => undefined);
    const backoff = { minMs: options.sync.reconnectMinMs, maxMs: options.sync.reconnectMaxMs, ...(deps.random ? { random: deps.random } : {}) };
    this.dnsdistBackoff = new Backoff(backoff);
    this.couicBackoff = new Backoff(backoff);
    this.consumer = new WatchConsumer(deps.couic, (event) => {
      // A new snapshot means couic may have changed in any way while unreachable:
      // resynchronise the dnsdist fully rather than trust the applied model.
      if (event.type === 'snapshot') this.applier.reset();
      this.emit({ type: 'couic-watch', event });
    });
    this.applier = new BlockApplier({ reasonPrefix: BRIDGE_REASON_PREFIX, action: options.dnsdist.action });
  }

  async start(): Promise<void> {
    const stateFile = this.options.sync.stateFile;
    if (this.options.sync.consume && stateFile !== undefined) {
      try {
        const state = await readStateFile(stateFile);
        if (state !== undefined) this.consumer.restore(state);
      } catch (error) {
        this.emit({ type: 'state-unreadable', error: message(error) });
      }
    }
    if (this.options.sync.consume) {
      this.consumeLoop = this.runConsumeLoop();
      this.every(this.options.sync.batchIntervalMs, () => this.reconcileOnce());
      if (stateFile !== undefined) this.every(this.options.sync.stateSaveIntervalMs, () => this.saveState());
    }
    if (this.options.sync.publish) this.every(this.options.sync.pollIntervalMs, () => this.publishOnce());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.consumeLoop;
    await this.saveState();
    this.control?.close();
    this.control = undefined;
    this.deps.couic.close();
  }

  /** One batch tick of consume (public for tests). */
  async reconcileOnce(): Promise<SyncReport | undefined> {
    if (!this.consumer.isReady) return undefined;
    const control = await this.dnsdist();
    if (control === undefined) return undefined;
    const now = this.now();
    const mirror = this.consumer.mirror;
    const due = mirror.changes !== this.syncedChanges || (this.nextExpiryMs !== undefined && now >= this.nextExpiryMs);
    try {
      if (!due && !this.applier.unknown) {
        await control.ping();
        return undefined;
      }
      const changes = mirror.changes;
      const nowSeconds = Math.floor(now / 1000);
      const desired = computeDesiredBlocks(mirror.values(), nowSeconds, this.parseCidr);
      const report = await this.applier.sync(control, desired, nowSeconds);
      this.syncedChanges = changes;
      this.nextExpiryMs = desired.nextExpiry === undefined ? undefined : desired.nextExpiry * 1000;
      this.emit({ type: 'synced', report, rules: mirror.size });
      return report;
    } catch (error) {
      this.dnsdistFailed(control, error);
      return undefined;
    }
  }

  /** One poll tick of publish (public for tests). */
  async publishOnce(): Promise<number> {
    const control = await this.dnsdist();
    if (control === undefined) return 0;
    let rows;
    try {
      rows = await control.listDynBlocks();
    } catch (error) {
      this.dnsdistFailed(control, error);
      return 0;
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    const selection = selectPublications(rows, this.applier.appliedHosts, this.published, nowSeconds, {
      reasonPrefix: BRIDGE_REASON_PREFIX,
      publishNetmasks: this.options.sync.publishNetmasks,
      publishSuffixes: this.options.sync.publishSuffixes,
    });
    try {
      if (selection.netmaskRules.length > 0) await this.deps.couic.addRules(selection.netmaskRules);
      if (selection.suffixes.length > 0) await this.deps.suffixes.publish(selection.suffixes);
      this.published = selection.nextPublished;
      if (selection.netmaskRules.length > 0) this.emit({ type: 'published', rules: selection.netmaskRules.length });
      return selection.netmaskRules.length;
    } catch (error) {
      this.emit({ type: 'publish-failed', error: message(error) });
      return 0;
    }
  }

  private async dnsdist(): Promise<DnsdistControl | undefined> {
    if (this.control !== undefined) return this.control;
    if (this.now() < this.dnsdistRetryAt) return undefined;
    this.connecting ??= this.deps
      .connectDnsdist()
      .then((control) => {
        this.control = control;
        this.dnsdistBackoff.reset();
        this.applier.reset(); // a new connection: the dnsdist may have restarted
        this.emit({ type: 'dnsdist-connected' });
        return control;
      })
      .catch((error: unknown) => {
        const retryInMs = this.dnsdistBackoff.next();
        this.dnsdistRetryAt = this.now() + retryInMs;
        this.emit({ type: 'dnsdist-failed', error: message(error), retryInMs });
        return undefined;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private dnsdistFailed(control: DnsdistControl, error: unknown): void {
    if (error instanceof ConsoleCommandError) {
      // dnsdist answered with a Lua error: keep the connection, rebuild next tick.
      this.applier.reset();
      this.emit({ type: 'warning', message: error.message });
      return;
    }
    if (this.control === control) this.control = undefined;
    control.close();
    this.applier.reset();
    const retryInMs = this.dnsdistBackoff.next();
    this.dnsdistRetryAt = this.now() + retryInMs;
    this.emit({ type: 'dnsdist-failed', error: message(error), retryInMs });
  }

  private async runConsumeLoop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const before = this.consumer.stateVersion;
      const error = await this.consumer.runOnce(signal);
      if (signal.aborted) return;
      // A stream that delivered something was a healthy session: start the backoff over.
      if (this.consumer.stateVersion !== before) this.couicBackoff.reset();
      const retryInMs = this.couicBackoff.next();
      this.emit({ type: 'couic-watch-ended', error: error === undefined ? undefined : message(error), retryInMs });
      await sleep(retryInMs, signal);
    }
  }

  private async saveState(): Promise<void> {
    const stateFile = this.options.sync.stateFile;
    if (stateFile === undefined || !this.consumer.isReady) return;
    const version = this.consumer.stateVersion;
    if (version === this.savedVersion) return;
    try {
      const state = this.consumer.state();
      await writeStateFile(stateFile, state);
      this.savedVersion = version;
      this.emit({ type: 'state-saved', rules: state.rules.length });
    } catch (error) {
      this.emit({ type: 'warning', message: `cannot save ${stateFile}: ${message(error)}` });
    }
  }

  /** Runs `task` every `intervalMs` after the previous run finished (never overlapping). */
  private every(intervalMs: number, task: () => Promise<unknown>): void {
    const schedule = (): void => {
      if (this.abort.signal.aborted) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        task()
          .catch((error: unknown) => this.emit({ type: 'warning', message: message(error) }))
          .finally(schedule);
      }, intervalMs);
      this.timers.add(timer);
    };
    schedule();
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

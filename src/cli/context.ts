// What every command handler receives instead of touching process globals: the API
// clients (created lazily, so usage errors never need a daemon), the output streams,
// a clock and the few I/O helpers. Tests inject fakes for all of them.
import type { Clock } from '../domain/clock.js';
import type { TextSink } from './output/sink.js';
import type { ClientsServiceClient } from '../generated/couic/v1/clients.js';
import type { ReplicationServiceClient } from '../generated/couic/v1/replication.js';
import type { RulesServiceClient } from '../generated/couic/v1/rules.js';
import type { SetsServiceClient } from '../generated/couic/v1/sets.js';
import type { StatsServiceClient } from '../generated/couic/v1/stats.js';

/** The couic services as typed nice-grpc clients. */
export interface CouicApi {
  rules: RulesServiceClient;
  clients: ClientsServiceClient;
  sets: SetsServiceClient;
  stats: StatsServiceClient;
  replication: ReplicationServiceClient;
}

export type { TextSink } from './output/sink.js';

export interface CliContext {
  /** Connects on first use (reads the config file then), later calls reuse the clients. */
  api(): Promise<CouicApi>;
  stdout: TextSink;
  stderr: TextSink;
  clock: Clock;
  /** Reads a text file; `-` means standard input. */
  readText(path: string): Promise<string>;
  /** Resolves after `ms` or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /**
   * A signal aborted on Ctrl-C, for long-running commands (`stats global --live`).
   * Asking for it is what makes Ctrl-C graceful; other commands keep the default.
   */
  interruptSignal(): AbortSignal;
  /** Whether stdout is a terminal (live views clear the screen only then). */
  stdoutIsTty: boolean;
}

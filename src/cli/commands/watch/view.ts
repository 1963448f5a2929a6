// How `couicctl watch` prints events: one line each, for people (absolute expiry
// times, since a log of events outlives any "in 5m"), or one JSON object per line
// (the NDJSON shapes are listed in docs/cli.md).
import type { RecordVersion } from '../../../generated/couic/v1/peering.js';
import { RemovalReason, SnapshotReason, type WatchEvent } from '../../../generated/couic/v1/replication.js';
import { policyName } from '../../policy.js';
import { entryJson, type EntryJson } from '../rules/view.js';

const SNAPSHOT_REASONS: Readonly<Record<number, string>> = {
  [SnapshotReason.SNAPSHOT_REASON_NO_CURSOR]: 'no_cursor',
  [SnapshotReason.SNAPSHOT_REASON_CURSOR_RESET]: 'cursor_reset',
};

const REMOVAL_REASONS: Readonly<Record<number, string>> = {
  [RemovalReason.REMOVAL_REASON_DELETED]: 'deleted',
  [RemovalReason.REMOVAL_REASON_EXPIRED]: 'expired',
  [RemovalReason.REMOVAL_REASON_COLLECTED]: 'collected',
  [RemovalReason.REMOVAL_REASON_FILTERED]: 'filtered',
};

export interface VersionJson {
  wall_ms: number;
  counter: number;
  origin: string;
}

export type WatchEventJson =
  | { event: 'snapshot_begin'; reason: string; entries: number }
  | { event: 'upsert'; entry: EntryJson; version: VersionJson | null }
  | { event: 'removal'; policy: string; cidr: string; reason: string; version: VersionJson | null }
  | { event: 'snapshot_end'; cursor: string }
  | { event: 'checkpoint'; cursor: string }
  | { event: 'resumed'; cursor: string };

function versionJson(version: RecordVersion | undefined): VersionJson | null {
  return version === undefined ? null : { wall_ms: version.wallMs, counter: version.counter, origin: version.origin };
}

/** Undefined for an event this couicctl does not know (a newer daemon). */
export function watchEventJson(event: WatchEvent): WatchEventJson | undefined {
  const e = event.event;
  switch (e?.$case) {
    case 'snapshotBegin':
      return { event: 'snapshot_begin', reason: SNAPSHOT_REASONS[e.value.reason] ?? 'unspecified', entries: e.value.entries };
    case 'upsert':
      if (e.value.entry === undefined) return undefined;
      return { event: 'upsert', entry: entryJson(e.value.entry), version: versionJson(e.value.version) };
    case 'removal':
      return {
        event: 'removal',
        policy: policyName(e.value.policy),
        cidr: e.value.cidr,
        reason: REMOVAL_REASONS[e.value.reason] ?? 'unspecified',
        version: versionJson(e.value.version),
      };
    case 'snapshotEnd':
      return { event: 'snapshot_end', cursor: e.value.cursor };
    case 'checkpoint':
      return { event: 'checkpoint', cursor: e.value.cursor };
    case 'resumed':
      return { event: 'resumed', cursor: e.value.cursor };
    default:
      return undefined;
  }
}

/** The cursor an event carries, if any. */
export function eventCursor(event: WatchEvent): string | undefined {
  const e = event.event;
  if (e?.$case === 'snapshotEnd' || e?.$case === 'checkpoint') return e.value.cursor;
  return undefined;
}

function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** One human line per event, e.g. `+ drop 10.0.0.0/8 tag=scanners expires=2025-01-01T00:00:00Z origin=node-a`. */
export function watchEventLine(json: WatchEventJson): string {
  switch (json.event) {
    case 'snapshot_begin':
      return `snapshot: ${json.entries} entries follow (${json.reason === 'cursor_reset' ? 'the cursor could not be resumed' : 'no cursor'})`;
    case 'upsert': {
      const { entry } = json;
      const parts = [`+ ${entry.policy} ${entry.cidr}`];
      if (entry.tag !== '') parts.push(`tag=${entry.tag}`);
      parts.push(`expires=${entry.expiration === 0 ? 'never' : isoSeconds(entry.expiration)}`);
      if (entry.origin_node !== '') parts.push(`origin=${entry.origin_node}`);
      return parts.join(' ');
    }
    case 'removal':
      return `- ${json.policy} ${json.cidr} (${json.reason})`;
    case 'snapshot_end':
      return `snapshot end, cursor ${json.cursor}`;
    case 'checkpoint':
      return `cursor ${json.cursor}`;
    case 'resumed':
      return `resumed from cursor ${json.cursor}`;
  }
}

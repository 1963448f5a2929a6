// How statistics look: a summary table (data plane and CIDR counts), then RX
// counters per XDP action; per-tag counters as Tag / Packets / Bytes.
import type { GetGlobalStatsResponse, TagCounters } from '../../../generated/couic/v1/stats.js';
import { renderTable } from '../../output/table.js';
import { actionName } from '../../policy.js';

export interface GlobalStatsJson {
  dataplane: string;
  drop_cidr_count: number;
  ignore_cidr_count: number;
  actions: { action: string; rx_packets: number; rx_bytes: number }[];
}

export function globalStatsJson(stats: GetGlobalStatsResponse): GlobalStatsJson {
  return {
    dataplane: stats.dataplane,
    drop_cidr_count: stats.dropCidrCount,
    ignore_cidr_count: stats.ignoreCidrCount,
    actions: stats.actions.map((a) => ({ action: actionName(a.action), rx_packets: a.rxPackets, rx_bytes: a.rxBytes })),
  };
}

export function renderGlobalStats(stats: GetGlobalStatsResponse): string {
  const summary = renderTable(
    ['Data plane', 'Drop CIDRs', 'Ignore CIDRs'],
    [[stats.dataplane, String(stats.dropCidrCount), String(stats.ignoreCidrCount)]],
  );
  const actions = renderTable(
    ['Action', 'RX packets', 'RX bytes'],
    stats.actions.map((a) => [actionName(a.action), String(a.rxPackets), String(a.rxBytes)]),
  );
  return summary + actions;
}

export interface TagStatsJson {
  tag: string;
  rx_packets: number;
  rx_bytes: number;
}

export function tagStatsJson(tag: TagCounters): TagStatsJson {
  return { tag: tag.tag, rx_packets: tag.rxPackets, rx_bytes: tag.rxBytes };
}

export function renderTagStats(tags: readonly TagCounters[]): string {
  return renderTable(
    ['Tag', 'Packets', 'Bytes'],
    tags.map((t) => [t.tag, String(t.rxPackets), String(t.rxBytes)]),
  );
}

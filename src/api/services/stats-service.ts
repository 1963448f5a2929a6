// StatsService: rule counts from the store, traffic counters from the data plane.
import type { Policy } from '../../domain/policy.js';
import type { DataPlane } from '../../dataplane/dataplane.js';
import { XdpAction, type StatsServiceImplementation } from '../../generated/couic/v1/stats.js';
import type { RuleStore } from '../../store/rule-store.js';
import { authorize, type CallerContext } from '../caller.js';
import { policyFromWire } from '../proto-convert.js';

const ACTION_TO_WIRE = {
  ABORTED: XdpAction.XDP_ACTION_ABORTED,
  DROP: XdpAction.XDP_ACTION_DROP,
  PASS: XdpAction.XDP_ACTION_PASS,
  TX: XdpAction.XDP_ACTION_TX,
  REDIRECT: XdpAction.XDP_ACTION_REDIRECT,
} as const;

export function createStatsService(store: RuleStore, dataPlane: DataPlane): StatsServiceImplementation<CallerContext> {
  return {
    async getGlobalStats(_request, { caller }) {
      authorize(caller, 'stats.read');
      const counts = store.countByPolicy();
      const counters = await dataPlane.readCounters();
      return {
        dropCidrCount: counts.drop,
        ignoreCidrCount: counts.ignore,
        dataplane: dataPlane.kind,
        pendingEnforcementCount: counters.pendingEnforcement ?? 0,
        actions: Object.entries(counters.actions).map(([action, c]) => ({
          action: ACTION_TO_WIRE[action as keyof typeof ACTION_TO_WIRE],
          rxPackets: c.packets,
          rxBytes: c.bytes,
        })),
      };
    },

    async getTagStats(request, { caller }) {
      authorize(caller, 'stats.read');
      const policy: Policy = policyFromWire(request.policy);
      const counters = await dataPlane.readCounters();
      return {
        tags: [...counters.tags[policy]]
          .map(([tag, c]) => ({ tag: tag === '' ? 'untagged' : tag, rxPackets: c.packets, rxBytes: c.bytes }))
          .sort((a, b) => b.rxPackets - a.rxPackets || a.tag.localeCompare(b.tag)),
      };
    },
  };
}

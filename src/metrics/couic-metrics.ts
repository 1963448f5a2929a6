// Prometheus metrics with the reference's names, read from the store and the data
// plane at scrape time (nothing to keep in sync between scrapes), plus the process and
// Node.js runtime metrics (prom-client's defaults) and the gRPC request metrics.
//
// promtool's lint wants no `_total` on gauges. The reference names
// couic_drop_cidr_total / couic_ignore_cidr_total are gauges that users' dashboards
// query, so they stay, as the two documented exceptions (docs/metrics.md), served
// beside correctly named copies couic_drop_cidrs / couic_ignore_cidrs.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { GrpcRequestMetrics } from './grpc-request-metrics.js';
import type { DataPlane, DataPlaneCounters } from '../dataplane/dataplane.js';
import type { RuleStore } from '../store/rule-store.js';

export function createMetricsRegistry(store: RuleStore, dataPlane: DataPlane, grpcRequests: GrpcRequestMetrics): Registry {
  const registry = new Registry();
  // One data-plane read per scrape, shared by every collector of that scrape.
  let pending: Promise<DataPlaneCounters> | undefined;
  const counters = (): Promise<DataPlaneCounters> => {
    pending ??= dataPlane.readCounters().finally(() => {
      setImmediate(() => (pending = undefined));
    });
    return pending;
  };

  for (const policy of ['drop', 'ignore'] as const) {
    const what = `${policy === 'drop' ? 'Drop' : 'Ignore'} CIDRs currently enforced (dynamic and set entries, all families)`;
    for (const [name, help] of [
      [`couic_${policy}_cidrs`, `${what}.`],
      [`couic_${policy}_cidr_total`, `${what}; the reference's name, same value as couic_${policy}_cidrs.`],
    ] as const) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(store.countByPolicy()[policy]);
        },
      });
    }
  }

  new Gauge({
    name: 'couic_dataplane_pending_enforcement',
    help: 'Rules accepted whose enforcement is pending: the kernel refused their map writes (retried until they land).',
    registers: [registry],
    async collect() {
      this.set((await counters()).pendingEnforcement ?? 0);
    },
  });

  const perAction = (name: string, help: string, field: 'packets' | 'bytes') =>
    new Counter({
      name,
      help,
      labelNames: ['action'],
      registers: [registry],
      async collect() {
        const { actions } = await counters();
        this.reset();
        for (const [action, c] of Object.entries(actions)) this.inc({ action }, c[field]);
      },
    });
  perAction('couic_stats_rx_packets_total', 'Packets received, per XDP action.', 'packets');
  perAction('couic_stats_rx_bytes_total', 'Bytes received, per XDP action.', 'bytes');

  const perTag = (policy: 'drop' | 'ignore', field: 'packets' | 'bytes') =>
    new Counter({
      name: `couic_${policy}_tag_rx_${field}_total`,
      help: `${field === 'packets' ? 'Packets' : 'Bytes'} matched by ${policy} rules, per tag (up to 254 tags tracked).`,
      labelNames: ['tag'],
      registers: [registry],
      async collect() {
        const { tags } = await counters();
        this.reset();
        for (const [tag, c] of tags[policy]) this.inc({ tag: tag === '' ? 'untagged' : tag }, c[field]);
      },
    });
  perTag('drop', 'packets');
  perTag('drop', 'bytes');
  perTag('ignore', 'packets');
  perTag('ignore', 'bytes');

  collectDefaultMetrics({ register: registry });
  // prom-client also serves these three gauges under a legacy `_total` name, beside the
  // correct one (nodejs_active_handles...): keep only the correct one.
  for (const legacy of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(legacy);
  }
  grpcRequests.registerIn(registry);
  return registry;
}

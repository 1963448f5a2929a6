// Prometheus metrics with the reference's names, read from the store and the data
// plane at scrape time (nothing to keep in sync between scrapes).
import { Counter, Gauge, Registry } from 'prom-client';
import type { DataPlane, DataPlaneCounters } from '../dataplane/dataplane.js';
import type { RuleStore } from '../store/rule-store.js';

export function createMetricsRegistry(store: RuleStore, dataPlane: DataPlane): Registry {
  const registry = new Registry();
  // One data-plane read per scrape, shared by every collector of that scrape.
  let pending: Promise<DataPlaneCounters> | undefined;
  const counters = (): Promise<DataPlaneCounters> => {
    pending ??= dataPlane.readCounters().finally(() => {
      setImmediate(() => (pending = undefined));
    });
    return pending;
  };

  new Gauge({
    name: 'couic_drop_cidr_total',
    help: 'Drop CIDRs currently enforced (dynamic and set entries, all families).',
    registers: [registry],
    collect() {
      this.set(store.countByPolicy().drop);
    },
  });
  new Gauge({
    name: 'couic_ignore_cidr_total',
    help: 'Ignore CIDRs currently enforced (dynamic and set entries, all families).',
    registers: [registry],
    collect() {
      this.set(store.countByPolicy().ignore);
    },
  });

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
      help: `${field === 'packets' ? 'Packets' : 'Bytes'} matched by ${policy} rules, per tag (64 tags tracked).`,
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
  return registry;
}

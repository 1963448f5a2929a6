// A real daemon on the XDP data plane inside a test's receiver namespace, with its
// own pin directory (removed at teardown, after the daemon stopped), and readers
// for the kernel counters through the stats API.
import { join } from 'node:path';
import { detachXdp } from '../../src/dataplane/xdp/xdp-detach.js';
import { DEFAULT_OBJECT_PATH } from '../../src/dataplane/xdp/xdp-dataplane.js';
import { XdpAction } from '../../src/generated/couic/v1/stats.js';
import { connectUnix, type CouicClients } from './clients.js';
import { startDaemon, type Daemon, type StartDaemonOptions } from './daemon.js';
import type { NetnsPair } from './netns.js';
import { Policy } from './rules.js';
import type { Scope } from './tmp.js';

export { DEFAULT_OBJECT_PATH };

export interface XdpDaemon {
  readonly daemon: Daemon;
  readonly api: CouicClients;
  readonly pinDir: string;
}

export async function startXdpDaemon(t: Scope, pair: NetnsPair, options: StartDaemonOptions = {}): Promise<XdpDaemon> {
  const pinDir = join('/sys/fs/bpf', `couic-test-${pair.id}`);
  // Registered first: runs after the daemon's own teardown has stopped it.
  t.teardown(async () => {
    await detachXdp(pinDir).catch(() => undefined);
  });
  const daemon = await startDaemon(t, {
    rootExtra: `ifaces = ["${pair.receiverIface}"]`,
    configExtra: `[xdp]\npin_dir = "${pinDir}"`,
    spawnPrefix: pair.nsenter(pair.receiver),
    ...options,
  });
  const api = connectUnix(t, daemon.socketPath, daemon.adminToken);
  return { daemon, api, pinDir };
}

export interface Counters {
  readonly drop: { packets: number; bytes: number };
  readonly pass: { packets: number; bytes: number };
}

export async function actionCounters(api: CouicClients): Promise<Counters> {
  const stats = await api.stats.getGlobalStats({});
  const of = (action: XdpAction): { packets: number; bytes: number } => {
    const found = stats.actions.find((a) => a.action === action);
    return { packets: Number(found?.rxPackets ?? 0), bytes: Number(found?.rxBytes ?? 0) };
  };
  return { drop: of(XdpAction.XDP_ACTION_DROP), pass: of(XdpAction.XDP_ACTION_PASS) };
}

export async function tagCounters(api: CouicClients, policy: 'drop' | 'ignore'): Promise<Map<string, { packets: number; bytes: number }>> {
  const { tags } = await api.stats.getTagStats({ policy: policy === 'drop' ? Policy.POLICY_DROP : Policy.POLICY_IGNORE });
  return new Map(tags.map((tag) => [tag.tag, { packets: Number(tag.rxPackets), bytes: Number(tag.rxBytes) }]));
}

// A real daemon on the XDP data plane inside a test's receiver namespace, with its
// own pin directory (removed at teardown, after the daemon stopped), and readers
// for the kernel counters through the stats API.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCidr } from '../../src/domain/cidr.js';
import { preparePinDir } from '../../src/dataplane/xdp/bpffs.js';
import { arrayKey, encodeKey, encodeRuleValue, TAG_NAME_LEN, XDP_PROGRAM } from '../../src/dataplane/xdp/layout.js';
import { closeFd, createXdpLink, interfaceIndex, loadObject, mapUpdate, pinObject, XDP_FLAGS_SKB_MODE } from '../../src/dataplane/xdp/libbpf.js';
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

/** The previous layout's program (LPM tries), as an older couic left it pinned. */
export const LEGACY_OBJECT_PATH = DEFAULT_OBJECT_PATH.replace(/couic\.bpf\.o$/, 'couic-lpm.bpf.o');

/**
 * Pins the previous layout in `pinDir` and attaches it to `iface` through a pinned
 * bpf_link, with drop entries (tag slot 1, named `tag`), as couic before the
 * compiled tables did. Runs in this process's network namespace: the upgrade test
 * calls it through `nsenter` (see legacyAttachCommand).
 */
export function attachLegacyLayout(pinDir: string, iface: string, cidrs: readonly string[], tag: string): void {
  const maps = ['drop_v4', 'drop_v6', 'ignore_v4', 'ignore_v6', 'xdp_stats', 'drop_tags', 'ignore_tags', 'tag_names', 'empty_tries'];
  const object = loadObject(LEGACY_OBJECT_PATH, new Map(maps.map((m) => [m, join(pinDir, m)])));
  try {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      mapUpdate(object.mapFd(cidr.family === 4 ? 'drop_v4' : 'drop_v6'), encodeKey(cidr), encodeRuleValue(1));
    }
    const name = Buffer.alloc(TAG_NAME_LEN);
    name.write(tag);
    mapUpdate(object.mapFd('tag_names'), arrayKey(1), name);
    const ifindex = interfaceIndex(iface);
    if (ifindex === undefined) throw new Error(`no interface ${iface}`);
    const link = createXdpLink(object.programFd(XDP_PROGRAM), ifindex, XDP_FLAGS_SKB_MODE);
    pinObject(link, join(pinDir, `link_${iface}`));
    closeFd(link);
  } finally {
    object.close();
  }
}

/** argv to run attachLegacyLayout inside a namespace (prefix it with pair.nsenter(ns)). */
export function legacyAttachCommand(pinDir: string, iface: string, cidrs: readonly string[], tag: string): string[] {
  return [process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), 'attach-legacy', pinDir, iface, tag, ...cidrs];
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'attach-legacy') {
  const [pinDir, iface, tag, ...cidrs] = process.argv.slice(3);
  await preparePinDir(pinDir ?? '');
  attachLegacyLayout(pinDir ?? '', iface ?? '', cidrs, tag ?? '');
}

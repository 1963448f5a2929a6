// Network namespaces joined by a veth pair, made by a test and always removed at its
// teardown: a sender namespace and a receiver namespace (where the daemon runs and
// attaches XDP), with test-chosen addresses (10.x, fd00::/8) that exist only there.
// Commands run through `nsenter --net=/run/netns/NAME`, which (unlike `ip netns
// exec`) keeps the host's /sys, so the daemon sees bpffs.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Scope } from './tmp.js';

const run = promisify(execFile);

export const SENDER_V4 = '10.200.0.1';
/** A second sender address outside 10.200.0.0/24, never covered by the tests' rules. */
export const SENDER_V4_OTHER = '10.201.0.1';
export const RECEIVER_V4 = '10.200.0.2';
export const SENDER_V6 = 'fd00:200::1';
export const SENDER_V6_OTHER = 'fd00:201::1';
export const RECEIVER_V6 = 'fd00:200::2';

export interface NetnsPair {
  readonly id: string;
  readonly sender: string;
  readonly receiver: string;
  readonly senderIface: string;
  readonly receiverIface: string;
  readonly senderMac: string;
  readonly receiverMac: string;
  /** Prefix to run a command inside a namespace. */
  nsenter(ns: string): string[];
  exec(ns: string, command: string, args: readonly string[]): Promise<string>;
}

export async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** A short unique id: interface names are limited to 15 characters. */
export function uniqueId(): string {
  return `cx${randomBytes(3).toString('hex')}`;
}

/**
 * Creates both namespaces, the veth pair and the addresses; IPv6 addresses skip DAD
 * and neighbours are permanent, so no ARP/ND is needed once rules drop the sender
 * (a dropped neighbour solicitation would otherwise stall the test's own traffic).
 */
export async function makeNetnsPair(t: Scope): Promise<NetnsPair> {
  const id = uniqueId();
  const sender = `${id}-s`;
  const receiver = `${id}-r`;
  const senderIface = `${id}s`;
  const receiverIface = `${id}r`;
  const nsenter = (ns: string): string[] => ['nsenter', `--net=/run/netns/${ns}`];
  const exec = (ns: string, command: string, args: readonly string[]): Promise<string> =>
    sh('nsenter', [`--net=/run/netns/${ns}`, command, ...args]);

  t.teardown(async () => {
    for (const ns of [sender, receiver]) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  });
  await sh('ip', ['netns', 'add', sender]);
  await sh('ip', ['netns', 'add', receiver]);
  await sh('ip', ['link', 'add', senderIface, 'netns', sender, 'type', 'veth', 'peer', 'name', receiverIface, 'netns', receiver]);
  const ends = [
    { ns: sender, iface: senderIface, v4: SENDER_V4, extraV4: SENDER_V4_OTHER, v6: SENDER_V6, extraV6: SENDER_V6_OTHER },
    { ns: receiver, iface: receiverIface, v4: RECEIVER_V4, extraV4: undefined, v6: RECEIVER_V6, extraV6: undefined },
  ];
  const macs = new Map<string, string>();
  for (const end of ends) {
    await exec(end.ns, 'ip', ['link', 'set', 'lo', 'up']);
    await exec(end.ns, 'ip', ['link', 'set', end.iface, 'up']);
    const dev = end.iface;
    await exec(end.ns, 'ip', ['addr', 'add', `${end.v4}/24`, 'dev', dev]);
    if (end.extraV4 !== undefined) await exec(end.ns, 'ip', ['addr', 'add', `${end.extraV4}/24`, 'dev', dev]);
    else await exec(end.ns, 'ip', ['route', 'add', '10.201.0.0/24', 'dev', dev]);
    await exec(end.ns, 'ip', ['-6', 'addr', 'add', `${end.v6}/64`, 'dev', dev, 'nodad']);
    if (end.extraV6 !== undefined) {
      await exec(end.ns, 'ip', ['-6', 'addr', 'add', `${end.extraV6}/64`, 'dev', dev, 'nodad']);
    }
    const link = await exec(end.ns, 'ip', ['-o', 'link', 'show', dev]);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(link)?.[1];
    if (mac === undefined) throw new Error(`no MAC address on ${dev}: ${link}`);
    macs.set(end.ns, `${dev} ${mac}`);
  }
  // Permanent neighbours both ways (IPv4 and IPv6): no resolution traffic at all.
  const [senderDev, senderMac] = (macs.get(sender) ?? '').split(' ') as [string, string];
  const [receiverDev, receiverMac] = (macs.get(receiver) ?? '').split(' ') as [string, string];
  for (const address of [RECEIVER_V4, RECEIVER_V6]) {
    await exec(sender, 'ip', ['neigh', 'replace', address, 'lladdr', receiverMac, 'nud', 'permanent', 'dev', senderDev]);
  }
  for (const address of [SENDER_V4, SENDER_V4_OTHER, SENDER_V6, SENDER_V6_OTHER]) {
    await exec(receiver, 'ip', ['neigh', 'replace', address, 'lladdr', senderMac, 'nud', 'permanent', 'dev', receiverDev]);
  }
  // The other sender prefixes are not on the receiver's subnets: on-link routes back.
  await exec(receiver, 'ip', ['-6', 'route', 'add', 'fd00:201::/64', 'dev', receiverDev]);
  return { id, sender, receiver, senderIface, receiverIface, senderMac, receiverMac, nsenter, exec };
}

/**
 * Why the XDP integration tests cannot run here, or undefined when they can. On CI
 * (CI=true) as root they must run: only "not root" is an acceptable reason there.
 */
export async function xdpSkipReason(objectPath: string): Promise<string | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces, BPF)';
  if (process.env['CI'] === 'true') return undefined;
  for (const tool of ['ip', 'nsenter', 'ping', 'python3']) {
    try {
      await sh('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} not installed`;
    }
  }
  try {
    await access(objectPath);
  } catch {
    return `${objectPath} not built (npm run build:bpf; needs clang and libbpf-dev)`;
  }
  try {
    await access('/proc/sys/net/core/bpf_jit_enable');
  } catch {
    return 'kernel without BPF';
  }
  return undefined;
}

/** Pings `count` times with a short interval; returns how many replies came back. */
export async function ping(pair: NetnsPair, from: string, to: string, count: number): Promise<number> {
  const v6 = to.includes(':');
  const out = await sh('nsenter', [
    `--net=/run/netns/${pair.sender}`,
    'ping',
    ...(v6 ? ['-6'] : ['-4']),
    '-c',
    String(count),
    '-i',
    '0.01',
    '-W',
    '1',
    '-I',
    from,
    to,
  ]).catch((error: Error) => error.message);
  const received = /(\d+) (?:packets )?received/.exec(out)?.[1];
  return received === undefined ? 0 : Number(received);
}

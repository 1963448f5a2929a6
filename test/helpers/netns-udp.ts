// Real UDP traffic between test namespaces: a python3 receiver in the receiver
// namespace that prints "<source> <seq>" for each datagram (counted per source), and a python3 sender
// that sends numbered datagrams from a chosen source address. A test proves that
// nothing from a dropped source arrived by sending a marker from a passing source
// after it: the veth delivers in order, so once the marker is in, the rest would be.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { NetnsPair } from './netns.js';
import { sh } from './netns.js';
import type { Scope } from './tmp.js';

export const UDP_PORT = 9999;

const RECEIVER = `
import socket, sys, select
port = int(sys.argv[1])
socks = []
for family, addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    socks.append(s)
print('ready', flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(65535)
        print(peer[0], data.split(b' ')[0].decode(), flush=True)
`;

const SENDER = `
import socket, sys, time, signal
src, dst, port, count, size, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
sent = 0
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
while not stop and (count < 0 or sent < count):
    payload = (str(sent) + ' ').encode()
    s.sendto(payload + b'x' * (size - len(payload)), (dst, port))
    sent += 1
    if interval > 0:
        time.sleep(interval)
print('sent', sent, flush=True)
`;

export interface UdpReceiver {
  /** Datagrams received from `source` so far. */
  countFrom(source: string): number;
  /** Waits until at least `count` datagrams from `source` arrived; false on timeout. */
  waitCount(source: string, count: number, timeoutMs?: number): Promise<boolean>;
}

/** Starts the receiver in the receiver namespace (killed at teardown). */
export async function startUdpReceiver(t: Scope, pair: NetnsPair): Promise<UdpReceiver> {
  const child = spawn('nsenter', [`--net=/run/netns/${pair.receiver}`, 'python3', '-u', '-c', RECEIVER, String(UDP_PORT)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const seen = new Map<string, number>();
  let buffered = '';
  let ready = false;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') {
        ready = true;
        continue;
      }
      const [source] = line.split(' ');
      if (source === undefined || source === '') continue;
      const key = normalize(source);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  });
  const deadline = Date.now() + 10_000;
  while (!ready) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`UDP receiver did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    countFrom: (source) => seen.get(normalize(source)) ?? 0,
    waitCount: async (source, count, timeoutMs = 5_000) => {
      const end = Date.now() + timeoutMs;
      while ((seen.get(normalize(source)) ?? 0) < count) {
        if (Date.now() > end) return false;
        await new Promise((r) => setTimeout(r, 10));
      }
      return true;
    },
  };
}

function normalize(address: string): string {
  return address.replace(/^::ffff:/, '').toLowerCase();
}

/** Sends `count` datagrams of `size` bytes of UDP payload from `from` to `to`; resolves when done. */
export async function sendUdp(pair: NetnsPair, from: string, to: string, count: number, size = 64): Promise<void> {
  await sh('nsenter', [`--net=/run/netns/${pair.sender}`, 'python3', '-c', SENDER, from, to, String(UDP_PORT), String(count), String(size), '0.0005']);
}

export interface UdpStream {
  /** Stops the sender; resolves with how many datagrams it sent. */
  stop(): Promise<number>;
}

/** Streams datagrams (one per `intervalMs`) until stopped. */
export function streamUdp(t: Scope, pair: NetnsPair, from: string, to: string, intervalMs: number, size = 64): UdpStream {
  const child: ChildProcess = spawn(
    'nsenter',
    [`--net=/run/netns/${pair.sender}`, 'python3', '-u', '-c', SENDER, from, to, String(UDP_PORT), '-1', String(size), String(intervalMs / 1000)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  return {
    async stop() {
      const closed = once(child, 'close');
      child.kill('SIGTERM');
      await closed;
      const sent = /sent (\d+)/.exec(out)?.[1];
      if (sent === undefined) throw new Error(`UDP sender printed no count: ${out}`);
      return Number(sent);
    },
  };
}

/** Frame sizes as XDP counts them (Ethernet header included, no FCS). */
export function udpFrameBytes(family: 4 | 6, payload: number, vlanTags = 0): number {
  return 14 + 4 * vlanTags + (family === 4 ? 20 : 40) + 8 + payload;
}

const RAW_SENDER = `
import socket, struct, sys
iface, dst_mac, src_mac, tags, src, dst, count, size = sys.argv[1:9]
count, size = int(count), int(size)
def mac(m): return bytes.fromhex(m.replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
payload = b'v' * size
udp = struct.pack('!HHHH', 40000, int(sys.argv[9]), 8 + len(payload), 0) + payload
if ':' in src:
    ethertype = 0x86DD
    ip = struct.pack('!IHBB', 6 << 28, len(udp), 17, 64) + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
else:
    ethertype = 0x0800
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
frame = mac(dst_mac) + mac(src_mac)
for tag in filter(None, tags.split(',')):
    tpid, vid = tag.split(':')
    frame += struct.pack('!HH', int(tpid, 16), int(vid))
frame += struct.pack('!H', ethertype) + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(count):
    s.send(frame)
`;

/** VLAN tags as (TPID, VID), outermost first: 0x8100 = 802.1Q, 0x88a8 = 802.1ad. */
export type VlanTag = readonly [tpid: number, vid: number];

/**
 * Sends `count` hand-built Ethernet frames (VLAN tags, then IPv4/IPv6 + UDP from
 * `from`) on the sender's veth through an AF_PACKET socket: works on kernels without
 * 802.1Q support, since only the XDP program on the other end needs to read the tags.
 */
export async function sendTaggedUdp(pair: NetnsPair, tags: readonly VlanTag[], from: string, to: string, count: number, size = 64): Promise<void> {
  const tagList = tags.map(([tpid, vid]) => `${tpid.toString(16)}:${vid}`).join(',');
  await sh('nsenter', [
    `--net=/run/netns/${pair.sender}`,
    'python3',
    '-c',
    RAW_SENDER,
    pair.senderIface,
    pair.receiverMac,
    pair.senderMac,
    tagList,
    from,
    to,
    String(count),
    String(size),
    String(UDP_PORT),
  ]);
}

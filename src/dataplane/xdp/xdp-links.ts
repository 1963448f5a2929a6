// Attaching the program to interfaces with bpf_links pinned in the pin directory:
// a pinned link keeps the program attached after the daemon exits, and a restart
// swaps the new program into it atomically (bpf_link_update), so there is never a
// moment without filtering. Native (driver) mode first, generic (SKB) as fallback.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BpfError } from './bpf-error.js';
import {
  closeFd,
  createXdpLink,
  interfaceIndex,
  openPinned,
  pinObject,
  updateLink,
  xdpLinkIfindex,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
} from './libbpf.js';

export type XdpMode = 'auto' | 'native' | 'generic';
export const XDP_MODES: readonly XdpMode[] = ['auto', 'native', 'generic'];

const LINK_PREFIX = 'link_';

export function linkPinPath(pinDir: string, iface: string): string {
  return join(pinDir, `${LINK_PREFIX}${iface}`);
}

/** Interface name -> index in this network namespace; one clear error for unknown names. */
export function resolveInterfaces(ifaces: readonly string[]): Map<string, number> {
  const indexes = new Map<string, number>();
  for (const iface of ifaces) {
    const index = interfaceIndex(iface);
    if (index === undefined) throw new BpfError(`ifaces: "${iface}"`, 19, 'no such network interface in this network namespace');
    indexes.set(iface, index);
  }
  return indexes;
}

export interface AttachedLink {
  readonly iface: string;
  readonly fd: number;
  readonly how: 'replaced' | 'native' | 'generic';
}

/** Attaches (or re-targets the pinned link of) each interface; returns open link fds. */
export async function attachAll(
  progFd: number,
  interfaces: ReadonlyMap<string, number>,
  pinDir: string,
  mode: XdpMode,
  logger: Logger,
): Promise<AttachedLink[]> {
  await removeUnconfiguredLinks(pinDir, new Set(interfaces.keys()), logger);
  const links: AttachedLink[] = [];
  try {
    for (const [iface, ifindex] of interfaces) {
      const link = await attachOne(progFd, iface, ifindex, pinDir, mode);
      links.push(link);
      logger.info(
        { iface, ifindex, mode: link.how },
        link.how === 'replaced'
          ? 'XDP: program replaced atomically in the pinned link (no gap)'
          : `XDP: attached in ${link.how} mode${link.how === 'generic' && mode === 'auto' ? ' (driver has no native XDP)' : ''}`,
      );
    }
  } catch (error) {
    for (const link of links) closeFd(link.fd);
    throw error;
  }
  return links;
}

async function attachOne(progFd: number, iface: string, ifindex: number, pinDir: string, mode: XdpMode): Promise<AttachedLink> {
  const pin = linkPinPath(pinDir, iface);
  const pinned = openPinned(pin);
  if (pinned !== undefined) {
    // A pinned link on the same interface: swap the program in, atomically.
    let reusable = false;
    try {
      reusable = xdpLinkIfindex(pinned) === ifindex;
      if (reusable) updateLink(pinned, progFd);
    } catch {
      reusable = false;
    }
    if (reusable) return { iface, fd: pinned, how: 'replaced' };
    closeFd(pinned); // interface gone or recreated: that link is dead
    await unlink(pin).catch(() => undefined);
  }
  const tries: ('native' | 'generic')[] = mode === 'auto' ? ['native', 'generic'] : [mode];
  let lastError: unknown;
  for (const how of tries) {
    try {
      const fd = createXdpLink(progFd, ifindex, how === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
      try {
        pinObject(fd, pin);
      } catch (error) {
        closeFd(fd);
        throw error;
      }
      return { iface, fd, how };
    } catch (error) {
      lastError = error;
    }
  }
  if (lastError instanceof BpfError) throw new BpfError(`attach XDP to ${iface} (${mode} mode)`, lastError.errno);
  throw lastError;
}

/** Links pinned for interfaces no longer in `ifaces` are unpinned (which detaches them). */
async function removeUnconfiguredLinks(pinDir: string, keep: ReadonlySet<string>, logger: Logger): Promise<void> {
  for (const name of await readdir(pinDir)) {
    if (!name.startsWith(LINK_PREFIX) || keep.has(name.slice(LINK_PREFIX.length))) continue;
    await unlink(join(pinDir, name));
    logger.info({ iface: name.slice(LINK_PREFIX.length) }, 'XDP: detached from an interface no longer in ifaces');
  }
}

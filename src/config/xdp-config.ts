// Reads the [xdp] table of couic.toml (used only when `ifaces` is non-empty): the
// bpffs folder for pinned maps and links, the attach mode, the compiled object.
import { resolve } from 'node:path';
import type { TableReader } from './table-reader.js';

export const XDP_MODES = ['auto', 'native', 'generic'] as const;
export type XdpModeOption = (typeof XDP_MODES)[number];

export interface XdpOptions {
  /** bpffs folder for the pinned maps and links (default /sys/fs/bpf/couic). */
  pinDir?: string;
  /** auto: native (driver) mode, generic (SKB) when the driver has none (default auto). */
  mode?: XdpModeOption;
  /** Compiled program (default build/bpf/couic.bpf.o of this install). */
  objectPath?: string;
}

/** Undefined when [xdp] is absent. `base` resolves relative paths. */
export function readXdp(table: TableReader | undefined, base: string): XdpOptions | undefined {
  if (table === undefined) return undefined;
  const xdp: XdpOptions = {};
  const pinDir = table.nonEmptyString('pin_dir');
  const objectPath = table.nonEmptyString('object');
  const mode = table.string('mode');
  table.finish();
  if (pinDir !== undefined) xdp.pinDir = resolve(base, pinDir);
  if (objectPath !== undefined) xdp.objectPath = resolve(base, objectPath);
  if (mode !== undefined) {
    const choice = XDP_MODES.find((m) => m === mode);
    if (choice === undefined) {
      table.problems.invalid(table.keyPath('mode'), `expected one of "auto", "native", "generic", got ${JSON.stringify(mode)}`);
    } else {
      xdp.mode = choice;
    }
  }
  return xdp;
}

// The pin directory must live on a bpffs. Mounts bpffs on /sys/fs/bpf when the
// system has not (minimal VMs and containers), then creates the directory.
import { mkdir, readFile } from 'node:fs/promises';
import { BpfError } from './bpf-error.js';
import { mountBpffs } from './libbpf.js';

export const DEFAULT_BPFFS = '/sys/fs/bpf';

async function bpffsMounts(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'bpf' && fields[1] !== undefined)
    .map((fields) => (fields[1] ?? '').replace(/\\040/g, ' '));
}

function under(path: string, mountPoint: string): boolean {
  return path === mountPoint || path.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
}

/** Makes sure `pinDir` exists on a bpffs; returns true when this call mounted bpffs. */
export async function preparePinDir(pinDir: string): Promise<boolean> {
  let mounted = false;
  if (!(await bpffsMounts()).some((m) => under(pinDir, m))) {
    if (!under(pinDir, DEFAULT_BPFFS)) {
      throw new BpfError(`[xdp] pin_dir ${pinDir}`, 22, `is not on a bpffs (mount one there, or use a folder under ${DEFAULT_BPFFS})`);
    }
    mountBpffs(DEFAULT_BPFFS);
    mounted = true;
  }
  await mkdir(pinDir, { recursive: true, mode: 0o700 });
  return mounted;
}

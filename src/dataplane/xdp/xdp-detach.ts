// `couic --detach`: removes the XDP program from every interface and deletes the
// pinned maps. Unpinning a link drops its last reference (the daemon is stopped), so
// the kernel detaches the program; unpinning the maps frees them.
import { readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface DetachResult {
  readonly links: string[];
  readonly maps: string[];
}

export async function detachXdp(pinDir: string): Promise<DetachResult> {
  let names: string[];
  try {
    names = await readdir(pinDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { links: [], maps: [] };
    throw error;
  }
  const links: string[] = [];
  const maps: string[] = [];
  // Links first: the program stops filtering before its maps go away.
  for (const name of names.filter((n) => n.startsWith('link_'))) {
    await unlink(join(pinDir, name));
    links.push(name.slice('link_'.length));
  }
  for (const name of names.filter((n) => !n.startsWith('link_'))) {
    await unlink(join(pinDir, name));
    maps.push(name);
  }
  await rmdir(pinDir);
  return { links, maps };
}

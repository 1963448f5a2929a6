// The one way the daemon and its tools replace a file whole: a temp file in the same
// directory (so the rename cannot cross file systems), written, optionally fsync'd,
// then renamed over the target (or hard-linked, to refuse replacing one), and the
// directory fsync'd when the write must survive a crash. A crash leaves the old file
// or the new one, never half of either; temp names are unique per write, so two
// writers never share one (`.<name>.<uuid>.tmp`, see removeStaleTempFiles).
import { randomUUID } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of the file, set exactly (the umask does not apply). */
  readonly mode: number;
  /** fsync the file before the rename and the directory after it. */
  readonly durable: boolean;
  /** false: fail with EEXIST when the file exists (default: replace it). */
  readonly replace?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    const handle = await open(temp, 'wx', options.mode);
    try {
      await handle.chmod(options.mode);
      await handle.writeFile(data);
      if (options.durable) await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.replace === false) await link(temp, path);
    else await rename(temp, path);
  } finally {
    await unlink(temp).catch(() => undefined); // gone after rename; after link it is the extra name
  }
  if (options.durable) await syncDirectory(dir);
}

/** Makes a rename, link or unlink in `dir` durable (the directory entry is what changed). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

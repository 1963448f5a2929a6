// A private temp directory per scenario run, removed afterwards. Kept short: Unix
// socket paths are limited to 107 bytes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withTempDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await body(dir);
  } finally {
    if (process.env['COUIC_BENCH_KEEP_TMP'] === undefined) await rm(dir, { recursive: true, force: true });
    else process.stderr.write(`bench: keeping ${dir}\n`);
  }
}

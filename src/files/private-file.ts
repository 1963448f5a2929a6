// Reading and writing the daemon's private files (client tokens, static sets).
// Both hold secrets or security policy, so a file anyone else could have written or
// read is refused rather than trusted, and writes are atomic so a crash never leaves
// a half-written token or blocklist behind.
import { constants } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/** Mode of every private file we write. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of the directories we create. */
export const PRIVATE_DIR_MODE = 0o700;

export interface PrivateReadOptions {
  readonly maxBytes: number;
  /** When set, a file owned by another uid is refused. */
  readonly ownerUid?: number | undefined;
}

export type PrivateRead =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly missing: boolean; readonly reason: string };

/** Logger-like sink for refusals; a pino logger fits. */
export interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Used when no logger is injected: refusals must never be silent. */
export const stderrWarnLogger: WarnLogger = {
  warn(fields, message) {
    process.stderr.write(`couic warning: ${message} ${JSON.stringify(fields)}\n`);
  },
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a file that must be a regular file (symlinks refused), without group/other
 * permission bits, at most `maxBytes` long and valid UTF-8. Checks are made on the
 * opened descriptor, so the file checked is the file read.
 */
export async function readPrivateFile(path: string, options: PrivateReadOptions): Promise<PrivateRead> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return { ok: false, missing: true, reason: 'file does not exist' };
    if (code === 'ELOOP') return refused('is a symbolic link; expected a regular file');
    return refused(`cannot be opened (${code ?? String(error)})`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return refused('is not a regular file');
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      return refused(`has mode ${formatMode(mode)}, expected 0600 (fix with: chmod 600 ${path})`);
    }
    if (options.ownerUid !== undefined && stat.uid !== options.ownerUid) {
      return refused(`is owned by uid ${stat.uid}, expected uid ${options.ownerUid}`);
    }
    if (stat.size > options.maxBytes) {
      return refused(`is ${stat.size} bytes, larger than the limit of ${options.maxBytes} bytes`);
    }
    // Read up to maxBytes + 1 bytes: the file may have grown since fstat.
    const buffer = Buffer.allocUnsafe(options.maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > options.maxBytes) return refused(`is larger than the limit of ${options.maxBytes} bytes`);
    }
    try {
      return { ok: true, text: strictUtf8.decode(buffer.subarray(0, length)) };
    } catch {
      return refused('is not valid UTF-8 text');
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes `content` to `path` atomically with mode 0600 and durably; with `replace`
 * false, throws an error with code EEXIST when `path` exists (no clobber).
 */
export async function writePrivateFileAtomic(path: string, content: string, replace: boolean): Promise<void> {
  await writeFileAtomic(path, content, { mode: PRIVATE_FILE_MODE, durable: true, replace });
}

/** Removes a file and makes the removal durable; returns false when it did not exist. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  await syncDirectory(dirname(path));
  return true;
}

/** Creates the directory (and parents) with mode 0700 when missing. */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Deletes temp files left by a write interrupted by a crash (names `.*.tmp`). */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith('.') && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => undefined);
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}


function refused(reason: string): PrivateRead {
  return { ok: false, missing: false, reason };
}

function formatMode(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

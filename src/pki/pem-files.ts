// Certificate and key files on disk: `<name>.pem` (mode 644) and `<name>-key.pem`
// (mode 600, the name .gitignore keeps out of git). Each file is written aside and
// renamed into place, so a key is never readable by others even for an instant and
// a reader never sees half a file.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-file.js';
import { PkiError } from './errors.js';
import type { PemPair } from './pem-pair.js';

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export interface PemPaths {
  certPath: string;
  keyPath: string;
}

export function pemPaths(dir: string, name: string): PemPaths {
  if (!FILE_NAME.test(name)) {
    throw new PkiError('name', `expected 1-64 characters of letters, digits, ".", "_" and "-", got ${JSON.stringify(name)}`);
  }
  return { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}-key.pem`) };
}

export async function writePem(dir: string, name: string, pair: PemPair): Promise<PemPaths> {
  const paths = pemPaths(dir, name);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(paths.keyPath, pair.keyPem, { mode: 0o600, durable: true });
  await writeFileAtomic(paths.certPath, pair.certPem, { mode: 0o644, durable: true });
  return paths;
}

/** Reads `<name>.pem` and `<name>-key.pem`; undefined when neither exists. */
export async function readPem(dir: string, name: string): Promise<PemPair | undefined> {
  const paths = pemPaths(dir, name);
  const [certPem, keyPem] = await Promise.all([readIfExists(paths.certPath), readIfExists(paths.keyPath)]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined) throw new PkiError(paths.certPath, `is missing while ${paths.keyPath} exists`);
  if (keyPem === undefined) throw new PkiError(paths.keyPath, `is missing while ${paths.certPath} exists`);
  return { certPem, keyPem };
}


async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
}

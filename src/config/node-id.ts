// The node id names this daemon as the origin of replicated rules, so it must not
// change across restarts: taken from the config, or derived once and kept in
// <working_dir>/node_id.

import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { checkNodeId, MAX_NODE_ID_LENGTH } from '../domain/node-id.js';
import { ConfigError } from './errors.js';

export { checkNodeId, MAX_NODE_ID_LENGTH } from '../domain/node-id.js';

export const NODE_ID_FILE = 'node_id';

export interface NodeIdSources {
  hostname?: () => string;
  /** Random suffix; 8 hex characters by default. */
  suffix?: () => string;
}

/** `<hostname>-<8 hex>`: readable in logs, unique even for clones of one VM image. */
export function deriveNodeId(sources: NodeIdSources = {}): string {
  const host = (sources.hostname ?? hostname)()
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  const suffix = (sources.suffix ?? (() => randomBytes(4).toString('hex')))();
  const base = (host === '' ? 'node' : host).slice(0, MAX_NODE_ID_LENGTH - suffix.length - 1);
  return `${base}-${suffix}`;
}

export interface ResolvedNodeId {
  nodeId: string;
  source: 'config' | 'file' | 'generated';
}

/**
 * The configured node id if set; else the one persisted in `<workingDir>/node_id`;
 * else a new derived id, persisted first. A corrupt node_id file is an error rather
 * than silently replaced, since a new id would make peers see a different node.
 */
export async function resolveNodeId(
  options: { nodeId?: string | undefined },
  workingDir: string,
  sources: NodeIdSources = {},
): Promise<ResolvedNodeId> {
  if (options.nodeId !== undefined) {
    const problem = checkNodeId(options.nodeId);
    if (problem !== undefined) throw new ConfigError([{ key: 'node_id', message: `node_id: ${problem}` }]);
    return { nodeId: options.nodeId, source: 'config' };
  }
  const file = join(workingDir, NODE_ID_FILE);
  const existing = await readNodeIdFile(file);
  if (existing !== undefined) return { nodeId: existing, source: 'file' };

  await mkdir(workingDir, { recursive: true, mode: 0o750 });
  const candidate = deriveNodeId(sources);
  // Write aside, then link into place: link fails if another process won the race,
  // and a crash never leaves a half-written node_id behind.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${candidate}\n`, { mode: 0o644 });
  try {
    await link(temp, file);
    return { nodeId: candidate, source: 'generated' };
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const winner = await readNodeIdFile(file);
    if (winner === undefined) throw err;
    return { nodeId: winner, source: 'file' };
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readNodeIdFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw ConfigError.forFile(file, `cannot read the node id file: ${errorMessage(err)}`, err);
  }
  const id = text.trim();
  const problem = checkNodeId(id);
  if (problem !== undefined) {
    throw ConfigError.forFile(
      file,
      `invalid node id file (node id ${problem}); fix it, delete it to derive a new id, or set node_id in the config`,
    );
  }
  return id;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

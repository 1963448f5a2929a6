// A daemon owns its Unix socket: a live one means another daemon is running (refuse
// to start); a dead one was left by a killed daemon (replace it).
import { connect } from 'node:net';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export class SocketInUseError extends Error {
  override readonly name = 'SocketInUseError';
}

export async function claimSocketPath(path: string): Promise<'fresh' | 'stale-replaced'> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let exists = true;
  try {
    const info = await lstat(path);
    if (!info.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; refusing to replace it`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') exists = false;
    else throw error;
  }
  if (!exists) return 'fresh';
  if (await isListening(path)) {
    throw new SocketInUseError(`another couic daemon is already serving ${path}; stop it first`);
  }
  await unlink(path);
  return 'stale-replaced';
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// Optional privilege drop to `user`/`group` from the config (default: stay as the
// invoking user). Node has no getpwnam, so names are resolved from /etc/passwd and
// /etc/group, which is what a Debian service user lives in.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';

export async function lookupIds(user: string | undefined, group: string | undefined): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const entry = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === user);
  if (entry === undefined) throw new Error(`user: no such user "${user ?? ''}" in /etc/passwd`);
  const uid = Number(entry[2]);
  let gid = Number(entry[3]);
  if (group !== undefined) {
    const groups = await readFile('/etc/group', 'utf8');
    const g = groups.split('\n').map((l) => l.split(':')).find((f) => f[0] === group);
    if (g === undefined) throw new Error(`group: no such group "${group}" in /etc/group`);
    gid = Number(g[2]);
  }
  return { uid, gid };
}

export async function dropPrivileges(user: string | undefined, group: string | undefined, logger: Logger): Promise<void> {
  if (user === undefined && group === undefined) return;
  if (process.getuid?.() !== 0) {
    logger.warn({ user, group }, 'not running as root: user/group ignored, staying as the invoking user');
    return;
  }
  const { uid, gid } = await lookupIds(user ?? 'root', group);
  if (process.setgid === undefined || process.setuid === undefined) throw new Error('user/group: not supported on this platform');
  process.setgid(gid);
  process.setuid(uid);
  logger.info({ user, group, uid, gid }, 'dropped privileges');
}

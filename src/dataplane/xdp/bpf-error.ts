// A failed libbpf/bpf() call, with the errno that explains it (EPERM: not root,
// ENOENT: no such pin, E2BIG/ENOMEM: map full...). Kernel errors, not user mistakes.
import { constants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

export class BpfError extends Error {
  constructor(
    readonly operation: string,
    /** Positive errno. */
    readonly errno: number,
    detail?: string,
  ) {
    super(`${operation}: ${detail ?? describeErrno(errno)}`);
    this.name = 'BpfError';
  }

  get code(): string {
    return ERRNO_NAMES.get(this.errno) ?? `errno ${this.errno}`;
  }
}

export function describeErrno(errno: number): string {
  const name = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  const text = ERRNO_TEXT[name];
  return text === undefined ? name : `${text} (${name})`;
}

const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ENOENT: 'no such file or entry',
  EEXIST: 'already exists',
  EINVAL: 'invalid argument',
  ENOMEM: 'out of memory',
  E2BIG: 'map is full',
  EBUSY: 'device or resource busy',
  ENOSYS: 'bpf() not available in this kernel',
  EOPNOTSUPP: 'not supported',
  ENOTSUP: 'not supported',
  ENODEV: 'no such device',
  EBADF: 'bad file descriptor',
};

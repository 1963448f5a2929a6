// "HOST:PORT" listen addresses and peer host names. IPv6 literals must be bracketed
// ("[::1]:2900"), as in URLs, because a bare "::1:2900" is ambiguous.

import { isIP } from 'node:net';

export interface HostPort {
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
}

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Why `host` is not a usable host name or IP literal, or undefined when it is. */
export function checkHost(host: string): string | undefined {
  if (host === '') return 'must not be empty';
  if (isIP(host) !== 0) return undefined;
  if (host.length > 253) return 'must be at most 253 characters';
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  if (labels.every((label) => HOSTNAME_LABEL.test(label))) return undefined;
  return `expected a host name or IP address, got ${JSON.stringify(host)}`;
}

/** Why `port` is not a TCP port in [minPort, 65535], or undefined when it is. */
export function checkPort(port: number, minPort = 1): string | undefined {
  if (!Number.isInteger(port) || port < minPort || port > 65535) {
    return `port must be between ${minPort} and 65535, got ${port}`;
  }
  return undefined;
}

export type HostPortResult = { ok: true; value: HostPort } | { ok: false; reason: string };

/**
 * Parses "HOST:PORT" ("127.0.0.1:2900", "localhost:2900", "[::1]:2900").
 * `minPort` 0 lets a listener ask the system for a free port (tests).
 */
export function parseHostPort(text: string, minPort = 1): HostPortResult {
  const expected = `expected "HOST:PORT", got ${JSON.stringify(text)}`;
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (match === null) {
    const hint = (text.match(/:/g) ?? []).length > 1 ? ' (write IPv6 addresses in brackets: "[::1]:2900")' : '';
    return { ok: false, reason: expected + hint };
  }
  const bracketed = match[1];
  const host = bracketed ?? match[2] ?? '';
  if (bracketed !== undefined && isIP(bracketed) !== 6) {
    return { ok: false, reason: `${expected}: only IPv6 addresses go in brackets` };
  }
  const hostProblem = checkHost(host);
  if (hostProblem !== undefined) return { ok: false, reason: `${expected}: host ${hostProblem}` };
  const port = Number(match[3]);
  const portProblem = checkPort(port, minPort);
  if (portProblem !== undefined) return { ok: false, reason: `${expected}: ${portProblem}` };
  return { ok: true, value: { host, port } };
}

/** Inverse of parseHostPort, bracketing IPv6 literals. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

// Checks what a certificate is asked to contain, before any key is made, so a bad
// name or address is reported clearly instead of producing a useless certificate.

import { isIP } from 'node:net';
import { PkiError } from './errors.js';

export const MAX_VALID_DAYS = 36_500;
const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

export function checkCommonName(commonName: string): void {
  if (commonName.trim() === '') throw new PkiError('commonName', 'must not be empty');
  // X.520 upper bound for CommonName.
  if (commonName.length > 64) throw new PkiError('commonName', 'must be at most 64 characters');
}

export function checkValidDays(validDays: number): void {
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > MAX_VALID_DAYS) {
    throw new PkiError('validDays', `must be a whole number of days between 1 and ${MAX_VALID_DAYS}, got ${validDays}`);
  }
}

/** DNS names for the SAN: host names, optionally with one leading "*." wildcard. */
export function checkDnsNames(dnsNames: readonly string[]): void {
  dnsNames.forEach((name, i) => {
    const bare = name.startsWith('*.') ? name.slice(2) : name;
    const labels = bare.split('.');
    if (name.length > 253 || !labels.every((label) => DNS_LABEL.test(label))) {
      throw new PkiError(`dnsNames[${i}]`, `expected a DNS name such as "couic1.example.org", got ${JSON.stringify(name)}`);
    }
  });
}

export function checkIpAddresses(ipAddresses: readonly string[]): void {
  ipAddresses.forEach((address, i) => {
    if (isIP(address) === 0) {
      throw new PkiError(`ipAddresses[${i}]`, `expected an IPv4 or IPv6 address, got ${JSON.stringify(address)}`);
    }
  });
}

/** Validity window: starts a little in the past so clocks slightly behind still accept it. */
export function validityWindow(now: Date, validDays: number): { notBefore: Date; notAfter: Date } {
  const backdateMs = 5 * 60 * 1000;
  return {
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: new Date(now.getTime() + validDays * 24 * 60 * 60 * 1000),
  };
}

/** A positive 128-bit serial number as hex (RFC 5280: positive, at most 20 octets). */
export function randomSerialNumber(random: Uint8Array): string {
  const bytes = Uint8Array.from(random.subarray(0, 16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

// One call that sets up a cluster's certificates in a folder: the CA (reused when
// already there, so new nodes join an existing cluster), one certificate per node
// for both TLS directions, and optional client-only certificates. Used by
// scripts/make-certs.js and by anything that bootstraps development certificates.

import { createCertificateAuthority } from './certificate-authority.js';
import { issueCertificate } from './issue-certificate.js';
import { PkiError } from './errors.js';
import { isIP } from 'node:net';
import { checkDnsNames, checkIpAddresses } from './certificate-request.js';
import { pemPaths, readPem, writePem, type PemPaths } from './pem-files.js';

export const DEFAULT_CA_NAME = 'ca';
export const DEFAULT_CA_COMMON_NAME = 'couic cluster CA';
export const DEFAULT_CA_VALID_DAYS = 3650;
/** Below 825 days, the longest leaf lifetime many TLS clients accept. */
export const DEFAULT_LEAF_VALID_DAYS = 825;

export interface MakeCertificatesOptions {
  outDir: string;
  /** Node names; each gets `<name>.pem` + `<name>-key.pem`, with its name as first DNS SAN. */
  nodes: readonly string[];
  /** Extra DNS SANs for every node certificate (e.g. "localhost"). */
  dnsNames?: readonly string[];
  /** IP SANs for every node certificate (e.g. "127.0.0.1", "::1"). */
  ipAddresses?: readonly string[];
  /** Client-only certificates (e.g. "admin" for couicctl in remote mTLS mode). */
  clients?: readonly string[];
  caCommonName?: string;
  caValidDays?: number;
  validDays?: number;
  now?: Date;
}

export interface WrittenCertificate extends PemPaths {
  name: string;
  kind: 'ca' | 'node' | 'client';
  /** True when an existing CA was kept rather than created. */
  reused: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

export async function makeCertificates(options: MakeCertificatesOptions): Promise<WrittenCertificate[]> {
  const clients = options.clients ?? [];
  const names = [DEFAULT_CA_NAME, ...options.nodes, ...clients];
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new PkiError('nodes', `the name ${JSON.stringify(duplicate)} is used twice (node, client and CA names must differ)`);

  // Check every request before writing anything, so a typo never leaves a half-made folder.
  names.forEach((name) => pemPaths(options.outDir, name));
  const sans = new Map(options.nodes.map((node) => [node, nodeSans(node, options)]));
  for (const { dnsNames, ipAddresses } of sans.values()) {
    checkDnsNames(dnsNames);
    checkIpAddresses(ipAddresses);
  }

  const now = options.now ?? new Date();
  const written: WrittenCertificate[] = [];
  let ca = await readPem(options.outDir, DEFAULT_CA_NAME);
  if (ca === undefined) {
    ca = await createCertificateAuthority({
      commonName: options.caCommonName ?? DEFAULT_CA_COMMON_NAME,
      validDays: options.caValidDays ?? DEFAULT_CA_VALID_DAYS,
      now,
    });
    const paths = await writePem(options.outDir, DEFAULT_CA_NAME, ca);
    written.push({ name: DEFAULT_CA_NAME, kind: 'ca', reused: false, dnsNames: [], ipAddresses: [], ...paths });
  } else {
    const paths = pemPaths(options.outDir, DEFAULT_CA_NAME);
    written.push({ name: DEFAULT_CA_NAME, kind: 'ca', reused: true, dnsNames: [], ipAddresses: [], ...paths });
  }

  const validDays = options.validDays ?? DEFAULT_LEAF_VALID_DAYS;
  for (const node of options.nodes) {
    const { dnsNames, ipAddresses } = sans.get(node) ?? nodeSans(node, options);
    const pair = await issueCertificate(ca, { commonName: node, dnsNames, ipAddresses, validDays, usage: 'both', now });
    const paths = await writePem(options.outDir, node, pair);
    written.push({ name: node, kind: 'node', reused: false, dnsNames, ipAddresses, ...paths });
  }
  for (const client of clients) {
    const pair = await issueCertificate(ca, { commonName: client, validDays, usage: 'client', now });
    const paths = await writePem(options.outDir, client, pair);
    written.push({ name: client, kind: 'client', reused: false, dnsNames: [], ipAddresses: [], ...paths });
  }
  return written;
}

/** The node's own name goes first in the SAN (as an IP SAN when it is an address). */
function nodeSans(node: string, options: MakeCertificatesOptions): { dnsNames: string[]; ipAddresses: string[] } {
  const ownIsIp = isIP(node) !== 0;
  return {
    dnsNames: unique([...(ownIsIp ? [] : [node]), ...(options.dnsNames ?? [])]),
    ipAddresses: unique([...(ownIsIp ? [node] : []), ...(options.ipAddresses ?? [])]),
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

// Which node ids a peer may announce: the id is bound to the credentials it
// authenticated with, so a peer holding one node's token and certificate cannot
// pose as another node (take over its exchange, or its place in the one-link-per-
// pair rule). The bound name is the peering client's name (the default) or the
// client certificate's CN. A derived node id ("<hostname>-<8 hex>", config/node-id.ts)
// is bound to its hostname, short or fully qualified, so the reference walkthrough
// (clients named after the hosts, node ids derived) peers unchanged.

import type { NodeIdBinding } from './peer-options.js';

export type { NodeIdBinding } from './peer-options.js';

export interface PeerCredentials {
  /** Name of the API client whose token the peer presented. */
  readonly clientName: string;
  /** CN of its verified client certificate ('' if none). */
  readonly certificateName: string;
}

const DERIVED_SUFFIX = /-[0-9a-f]{8}$/;

/** Whether `nodeId` is `name` itself or a node id derived from a host of that name. */
export function nodeIdMatchesName(nodeId: string, name: string): boolean {
  if (name === '') return false;
  const lowerId = nodeId.toLowerCase();
  const lowerName = name.toLowerCase();
  if (lowerId === lowerName) return true;
  if (!DERIVED_SUFFIX.test(lowerId)) return false;
  const host = lowerId.slice(0, -9);
  return host === lowerName || host.startsWith(`${lowerName}.`);
}

/** Why a peer with `credentials` may not announce `nodeId`, or undefined when it may. */
export function nodeIdBindingProblem(nodeId: string, credentials: PeerCredentials, binding: NodeIdBinding): string | undefined {
  if (binding === 'none') return undefined;
  const [what, name] =
    binding === 'client' ? (['peering client', credentials.clientName] as const) : (['client certificate CN', credentials.certificateName] as const);
  if (nodeIdMatchesName(nodeId, name)) return undefined;
  return (
    `peer announced node id "${nodeId}", which is not bound to its credentials: its ${what} is "${name}" ` +
    `([peering] node_id_binding = "${binding}": the node id must be "${name}" or "${name}-<8 hex>", as derived from that host name)`
  );
}

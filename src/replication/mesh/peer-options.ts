// What the mesh needs to know of a configured peer, and how an inbound peer's node id
// is bound to its credentials: the transport's own option types, which
// config/daemon-config.ts compiles from [peering] in couic.toml.
export interface PeerOptions {
  host: string;
  port: number;
  tls: boolean;
  /** Bearer token of a `peering` client on that peer (UUID). */
  token: string;
}

/** `[peering] node_id_binding`: see node-id-binding.ts. */
export type NodeIdBinding = 'client' | 'certificate' | 'none';
export const NODE_ID_BINDINGS: readonly NodeIdBinding[] = ['client', 'certificate', 'none'];

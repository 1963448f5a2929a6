// The PeeringService.Sync method with the message bytes passed through untouched,
// for both the dialling client and the server: the mesh link encodes and decodes
// SyncMessages itself, once, so it can count the real size of every message
// (LinkStatus, reconciliation summaries) and so grpc-js does not copy each outgoing
// message through fromPartial before encoding it. Same wire format, same path.
import type { ServiceImplementation } from 'nice-grpc';

function passThrough(bytes: Uint8Array): Uint8Array {
  return bytes;
}

export const RawPeeringServiceDefinition = {
  sync: {
    path: '/couic.v1.PeeringService/Sync',
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
    options: {},
  },
} as const;

export type RawPeeringServiceDefinition = typeof RawPeeringServiceDefinition;

export type RawPeeringServiceImplementation<CallContextExt = object> = ServiceImplementation<RawPeeringServiceDefinition, CallContextExt>;

// dnsdist console nonces (24 bytes, libsodium secretbox). Each side sends a random
// nonce on connect; both then derive one nonce per direction from the two halves,
// and increment it after every frame: the first 4 bytes are a big-endian counter
// that wraps at 2^32 (what dnsdist's Nonce::increment does).
export const NONCE_BYTES = 24;
const HALF = NONCE_BYTES / 2;

/** First half from `lower`, second half from `higher` (dnsdist's Nonce::merge). */
export function mergeNonces(lower: Uint8Array, higher: Uint8Array): Uint8Array {
  if (lower.length !== NONCE_BYTES || higher.length !== NONCE_BYTES) throw new RangeError(`nonces are ${NONCE_BYTES} bytes`);
  const out = new Uint8Array(NONCE_BYTES);
  out.set(lower.subarray(0, HALF), 0);
  out.set(higher.subarray(HALF), HALF);
  return out;
}

/** Increments the big-endian 32-bit counter in the first 4 bytes, in place. */
export function incrementNonce(nonce: Uint8Array): void {
  const view = new DataView(nonce.buffer, nonce.byteOffset, 4);
  view.setUint32(0, (view.getUint32(0, false) + 1) >>> 0, false);
}

/**
 * The reading and writing nonces of one side, from its own nonce and the other's.
 * Both sides use the same formula, so one side's writing nonce is the other's reading one.
 */
export function deriveNonces(ours: Uint8Array, theirs: Uint8Array): { reading: Uint8Array; writing: Uint8Array } {
  return { reading: mergeNonces(ours, theirs), writing: mergeNonces(theirs, ours) };
}

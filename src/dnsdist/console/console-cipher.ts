// One direction of the console's encryption: XSalsa20-Poly1305 secretbox (tweetnacl,
// the same construction as libsodium's crypto_secretbox_easy that dnsdist uses),
// with the direction's nonce incremented after every frame.
import nacl from 'tweetnacl';
import { incrementNonce } from './console-nonce.js';

export const KEY_BYTES = nacl.secretbox.keyLength;

export class ConsoleCipherError extends Error {
  override readonly name = 'ConsoleCipherError';
}

export class DirectionCipher {
  private readonly nonce: Uint8Array;

  constructor(
    private readonly key: Uint8Array,
    nonce: Uint8Array,
  ) {
    if (key.length !== KEY_BYTES) throw new ConsoleCipherError(`console key must be ${KEY_BYTES} bytes`);
    this.nonce = Uint8Array.from(nonce);
  }

  seal(plain: Uint8Array): Uint8Array {
    const sealed = nacl.secretbox(plain, this.nonce, this.key);
    incrementNonce(this.nonce);
    return sealed;
  }

  open(sealed: Uint8Array): Uint8Array {
    const plain = nacl.secretbox.open(sealed, this.nonce, this.key);
    if (plain === null) throw new ConsoleCipherError('console frame failed authentication (wrong key?)');
    incrementNonce(this.nonce);
    return plain;
  }
}

/** Decodes a dnsdist `setKey()` value (base64 of 32 bytes); returns the reason when not one. */
export function decodeConsoleKey(base64: string): Uint8Array | string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return 'must be base64 (as printed by dnsdist makeKey())';
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== KEY_BYTES) return `must decode to ${KEY_BYTES} bytes, got ${bytes.length}`;
  return new Uint8Array(bytes);
}

// Errors of certificate generation: bad requests (names, addresses, lifetimes) and
// unusable CA material. Callers are the cert script and dev bootstrap, which print them.

export class PkiError extends Error {
  override readonly name = 'PkiError';
  /** The option or file the problem is about, e.g. `ipAddresses[1]` or a path. */
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(`${field}: ${message}`, options);
    this.field = field;
  }
}

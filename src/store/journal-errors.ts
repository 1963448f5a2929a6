// Errors of the journal persistence. Both are about the node's state, not the caller's
// input: a closed journal is "unavailable"; files written by a newer format version
// stop the start (better than silently dropping rules we cannot read).
import { CouicError } from '../domain/errors.js';

export class JournalClosedError extends CouicError {
  readonly kind = 'unavailable';
  override readonly name = 'JournalClosedError';
  constructor() {
    super('rule persistence is closed: changes can no longer be made durable');
  }
}

export class JournalFormatError extends CouicError {
  readonly kind = 'failed-precondition';
  override readonly name = 'JournalFormatError';
  constructor(file: string, version: number, supported: number) {
    super(
      `${file}: record format version ${version} is not supported (this couic reads version ${supported}); ` +
        'it was probably written by a newer couic',
    );
  }
}

// Why a mesh link ended, as typed errors: the API maps them to gRPC statuses (the
// peer's dialer sees them) and the mesh manager logs them with their reason.
import { CouicError } from '../../domain/errors.js';

/** The exchange between these two nodes runs on another stream (one exchange per pair). */
export class DuplicateLinkError extends CouicError {
  readonly kind = 'already-exists';
  override readonly name = 'DuplicateLinkError';
}

/** The peer went quiet (no hello in time) or the link was stopped. */
export class LinkUnavailableError extends CouicError {
  readonly kind = 'unavailable';
  override readonly name = 'LinkUnavailableError';
}

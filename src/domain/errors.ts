// Typed errors of the domain. Exactly one place (api/errors.ts) maps them to gRPC
// status codes; everything below the API throws these and nothing else on purpose.

export interface FieldViolation {
  field: string;
  message: string;
}

export type ErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'unauthenticated'
  | 'permission-denied'
  | 'unavailable';

export abstract class CouicError extends Error {
  abstract readonly kind: ErrorKind;
}

/** Bad input; lists every offending field so the caller can fix them all at once. */
export class InvalidArgumentError extends CouicError {
  readonly kind = 'invalid-argument';
  override readonly name = 'InvalidArgumentError';
  constructor(readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.message}`).join('; '));
  }
  static single(field: string, message: string): InvalidArgumentError {
    return new InvalidArgumentError([{ field, message }]);
  }
}

export class NotFoundError extends CouicError {
  readonly kind = 'not-found';
  override readonly name = 'NotFoundError';
}

export class AlreadyExistsError extends CouicError {
  readonly kind = 'already-exists';
  override readonly name = 'AlreadyExistsError';
}

export class FailedPreconditionError extends CouicError {
  readonly kind = 'failed-precondition';
  override readonly name = 'FailedPreconditionError';
}

export class CapacityExceededError extends CouicError {
  readonly kind = 'resource-exhausted';
  override readonly name = 'CapacityExceededError';
}

export class UnauthenticatedError extends CouicError {
  readonly kind = 'unauthenticated';
  override readonly name = 'UnauthenticatedError';
}

export class PermissionDeniedError extends CouicError {
  readonly kind = 'permission-denied';
  override readonly name = 'PermissionDeniedError';
}

/** Collects violations across several fields, then throws them together. */
export class ViolationCollector {
  private readonly items: FieldViolation[] = [];
  add(field: string, message: string | undefined): void {
    if (message !== undefined) this.items.push({ field, message });
  }
  get violations(): readonly FieldViolation[] {
    return this.items;
  }
  throwIfAny(): void {
    if (this.items.length > 0) throw new InvalidArgumentError([...this.items]);
  }
}

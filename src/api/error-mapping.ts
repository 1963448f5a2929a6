// The one place that turns errors into gRPC statuses. Domain errors keep their
// message; anything else becomes INTERNAL with a generic message, stack in the log.
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc';
import type { Logger } from 'pino';
import { CouicError, type ErrorKind } from '../domain/errors.js';
import { rejectUndecodable } from './undecodable-requests.js';

const STATUS_OF: Record<ErrorKind, Status> = {
  'invalid-argument': Status.INVALID_ARGUMENT,
  'not-found': Status.NOT_FOUND,
  'already-exists': Status.ALREADY_EXISTS,
  'failed-precondition': Status.FAILED_PRECONDITION,
  'resource-exhausted': Status.RESOURCE_EXHAUSTED,
  unauthenticated: Status.UNAUTHENTICATED,
  'permission-denied': Status.PERMISSION_DENIED,
  unavailable: Status.UNAVAILABLE,
};

/**
 * Longest status message sent, in UTF-8 bytes. It travels percent-encoded in the
 * HTTP/2 trailers: one beyond the peer's header-list limit breaks the whole
 * connection, every call multiplexed on it.
 */
export const MAX_STATUS_MESSAGE_BYTES = 2048;

function bounded(message: string): string {
  if (message.length <= MAX_STATUS_MESSAGE_BYTES / 4 || Buffer.byteLength(message) <= MAX_STATUS_MESSAGE_BYTES) return message;
  let cut = Math.min(message.length, MAX_STATUS_MESSAGE_BYTES);
  while (Buffer.byteLength(message.slice(0, cut)) > MAX_STATUS_MESSAGE_BYTES) cut = Math.floor(cut * 0.8);
  return `${message.slice(0, cut)}... (message cut at ${cut} of ${message.length} characters)`;
}

export function toServerError(error: unknown, logger: Logger, method: string): ServerError {
  if (error instanceof ServerError) {
    const details = bounded(error.details);
    return details === error.details ? error : new ServerError(error.code, details);
  }
  if (error instanceof CouicError) return new ServerError(STATUS_OF[error.kind], bounded(error.message));
  logger.error({ err: error, method }, 'internal error');
  return new ServerError(Status.INTERNAL, 'internal error (see the daemon log)');
}

export function errorMappingMiddleware(logger: Logger): ServerMiddleware {
  return async function* mapErrors(call, context) {
    try {
      rejectUndecodable(call.request);
      return yield* call.next(call.request, context);
    } catch (error: unknown) {
      if (error instanceof Error && error.name === 'AbortError') throw error;
      throw toServerError(error, logger, call.method.path);
    }
  };
}

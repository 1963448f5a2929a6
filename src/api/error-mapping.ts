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
 * Longest status message sent. It travels in the HTTP/2 trailers: one beyond the
 * peer's header-list limit breaks the whole connection, every call multiplexed on it.
 */
export const MAX_STATUS_MESSAGE_CHARS = 2048;

function bounded(message: string): string {
  if (message.length <= MAX_STATUS_MESSAGE_CHARS) return message;
  return `${message.slice(0, MAX_STATUS_MESSAGE_CHARS)}... (message cut at ${MAX_STATUS_MESSAGE_CHARS} of ${message.length} characters)`;
}

export function toServerError(error: unknown, logger: Logger, method: string): ServerError {
  if (error instanceof ServerError) return error.details.length <= MAX_STATUS_MESSAGE_CHARS ? error : new ServerError(error.code, bounded(error.details));
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

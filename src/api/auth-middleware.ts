// Authenticates every call from its `authorization: Bearer <token>` metadata and
// puts the caller into the context. Authorization (RBAC) is done per method.
import type { ServerMiddleware } from 'nice-grpc';
import { UnauthenticatedError } from '../domain/errors.js';
import { bearerToken, type TokenDirectory } from '../rbac/bearer-token.js';
import type { CallerContext } from './caller.js';

export type { TokenDirectory };

export function authMiddleware(directory: TokenDirectory): ServerMiddleware<CallerContext> {
  return async function* authenticate(call, context) {
    const header = context.metadata.get('authorization');
    const token = bearerToken(header);
    if (token === undefined) {
      throw new UnauthenticatedError('missing "authorization: Bearer <token>" metadata');
    }
    const caller = directory.findByToken(token);
    if (caller === undefined) throw new UnauthenticatedError('unknown token');
    return yield* call.next(call.request, { ...context, caller });
  };
}

// The authenticated caller, put into every call context by the auth middleware.
import { PermissionDeniedError } from '../domain/errors.js';
import type { Caller } from '../rbac/bearer-token.js';
import { groupAllows, groupsAllowed, type Permission } from '../rbac/permissions.js';

export type { Caller };

/** Context extension carried by every authenticated call (nice-grpc middleware). */
export interface CallerContext {
  readonly caller: Caller;
}

export function authorize(caller: Caller, permission: Permission): void {
  if (!groupAllows(caller.group, permission)) {
    throw new PermissionDeniedError(
      `client "${caller.name}" (group ${caller.group}) may not ${permission}; allowed groups: ${groupsAllowed(permission).join(', ')}`,
    );
  }
}

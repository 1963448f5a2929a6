// Token authentication shared by the gRPC API and the metrics endpoint: the token of
// an `authorization: Bearer <token>` header, and the client it belongs to.
import type { Group } from './permissions.js';

export interface Caller {
  readonly name: string;
  readonly group: Group;
}

export interface TokenDirectory {
  findByToken(token: string): Caller | undefined;
}

export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

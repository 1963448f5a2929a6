// The on-disk format of an API client: `<name>.toml` holding name, group and token.
// Pure parse/format so the registry's I/O and the format's rules are tested apart.
import { parse, stringify } from 'smol-toml';
import { checkName } from '../domain/validation.js';
import { GROUPS, isGroup, type Group } from './permissions.js';

export interface Client {
  readonly name: string;
  readonly group: Group;
  /** UUIDv4 bearer token; compared as an exact string. */
  readonly token: string;
}

export const CLIENT_FILE_SUFFIX = '.toml';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuidV4(value: string): boolean {
  return UUID_V4.test(value);
}

export function checkGroup(group: string): string | undefined {
  return isGroup(group) ? undefined : `must be one of ${GROUPS.join(', ')} (got "${group}")`;
}

/**
 * Parses a client file. `fileName` is the name from the file's path (without
 * `.toml`); it must equal the `name` inside, otherwise deleting the client by name
 * would remove another file. Returns the client or the reason it is refused.
 */
export function parseClientFile(text: string, fileName: string): Client | string {
  let document: Record<string, unknown>;
  try {
    document = parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `is not valid TOML: ${message.split('\n')[0] ?? message}`;
  }
  const { name, group, token } = document;
  if (typeof name !== 'string') return 'key "name" is missing or not a string';
  if (typeof group !== 'string') return 'key "group" is missing or not a string';
  if (typeof token !== 'string') return 'key "token" is missing or not a string';
  const nameProblem = checkName(name);
  if (nameProblem !== undefined) return `key "name" ${nameProblem}`;
  if (name !== fileName) return `key "name" is "${name}" but the file is named "${fileName}${CLIENT_FILE_SUFFIX}"`;
  if (!isGroup(group)) return `key "group" ${checkGroup(group) ?? ''}`;
  if (!isUuidV4(token)) return 'key "token" must be a UUID v4';
  return { name, group, token };
}

export function formatClientFile(client: Client): string {
  return stringify({ name: client.name, group: client.group, token: client.token });
}

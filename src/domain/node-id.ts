// What a node id may be: it names a daemon as the origin of replicated rules, on the
// wire and in the peering handshake, so every layer checks it the same way.
export const MAX_NODE_ID_LENGTH = 64;
const NODE_ID_CHARS = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `id` is not a valid node id, or undefined when it is. */
export function checkNodeId(id: string): string | undefined {
  if (id === '') return 'must not be empty';
  if (id.length > MAX_NODE_ID_LENGTH) return `must be at most ${MAX_NODE_ID_LENGTH} characters`;
  if (!NODE_ID_CHARS.test(id)) return 'may only contain letters, digits, ".", "_" and "-", and must start with a letter or digit';
  return undefined;
}

// Lua text the bridge sends to the console. Values travel as Lua string literals with
// every byte outside printable ASCII (and quote, backslash) escaped, so no reason or
// tag can break out of its string.
export function luaString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c || byte < 0x20 || byte > 0x7e) out += `\\${byte.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

/** What dnsdist does to a blocked query. */
export type BlockAction = 'drop' | 'refused';

export function dynBlockAction(action: BlockAction): string {
  return action === 'drop' ? 'DNSAction.Drop' : 'DNSAction.Refused';
}

export function ruleAction(action: BlockAction): string {
  return action === 'drop' ? 'DropAction()' : 'RCodeAction(DNSRCode.REFUSED)';
}

/**
 * dnsdist's printed action names back to DNSAction values (to re-add the blocks the
 * dnsdist made itself when the table is rebuilt); unknown names keep the default action.
 */
export function dynBlockActionFromName(name: string): string {
  switch (name) {
    case 'Drop':
      return 'DNSAction.Drop';
    case 'Send Refused':
      return 'DNSAction.Refused';
    case 'Send NXDomain':
      return 'DNSAction.Nxdomain';
    case 'Truncate over UDP':
      return 'DNSAction.Truncate';
    case 'Send ServFail':
      return 'DNSAction.ServFail';
    default:
      return 'nil';
  }
}

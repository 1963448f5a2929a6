// Turns NATS client errors into one line a user can act on (shown in the daemon
// log and in `couicctl peers list`): bad credentials, unreachable servers, TLS.

export function describeBusError(error: unknown, servers: readonly string[]): string {
  const message = messageChain(error);
  const where = servers.join(', ');
  if (/authorization violation|authentication|auth.*(fail|expired)|user authentication/i.test(message)) {
    return `NATS refused the credentials (${firstLine(message)}): check [bus] user/password, token or creds`;
  }
  if (/ECONNREFUSED|connection refused|CONNECTION_REFUSED/i.test(message)) {
    return `cannot reach NATS at ${where}: connection refused`;
  }
  if (/certificate|self.signed|ssl|tls|handshake/i.test(message)) {
    return `TLS with NATS at ${where} failed (${firstLine(message)}): check [bus] ca, cert and key`;
  }
  if (/jetstream not enabled|no responders/i.test(message)) {
    return `JetStream is not available on NATS at ${where} (${firstLine(message)}): start nats-server with JetStream (-js)`;
  }
  return `NATS at ${where}: ${firstLine(message)}`;
}

function messageChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      parts.push(typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.filter((p) => p !== '').join(': ') || 'unknown error';
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? text;
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

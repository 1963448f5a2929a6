// The HTTP/2 preface deadline of the TCP listener. A client that completes the TLS
// handshake (bounded by the credentials' handshakeTimeout) and then sends nothing
// would hold a TLS session and a file descriptor until it leaves: grpc-js bounds
// neither, and its idle timeout and keepalive pings only start once the client has
// spoken HTTP/2. grpc-js offers no hook on its HTTP/2 servers, so the one method that
// creates them is wrapped here (once, for secure servers only): every new session
// must deliver the client's SETTINGS frame (the end of the preface) in time, or it is
// destroyed.
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import { Server as GrpcJsServer, type ServerCredentials } from '@grpc/grpc-js';

export const HTTP2_PREFACE_TIMEOUT_MS = 10_000;

interface WithHttp2Factory {
  createHttp2Server?: (credentials: ServerCredentials) => Http2Server | Http2SecureServer;
}

let installed = false;

/** Idempotent. Returns false when this grpc-js version does not have the method (then there is no deadline). */
export function installPrefaceDeadline(timeoutMs = HTTP2_PREFACE_TIMEOUT_MS): boolean {
  const proto = GrpcJsServer.prototype as unknown as WithHttp2Factory;
  const original = proto.createHttp2Server;
  if (typeof original !== 'function') return false;
  if (installed) return true;
  installed = true;
  proto.createHttp2Server = function createHttp2ServerWithDeadline(this: unknown, credentials: ServerCredentials) {
    const server = original.call(this, credentials);
    if (credentials._isSecure()) server.on('session', (session: Http2Session) => armPrefaceDeadline(session, timeoutMs));
    return server;
  };
  return true;
}

function armPrefaceDeadline(session: Http2Session, timeoutMs: number): void {
  const timer = setTimeout(() => session.destroy(), timeoutMs);
  timer.unref();
  const clear = (): void => clearTimeout(timer);
  session.once('remoteSettings', clear);
  session.once('close', clear);
}

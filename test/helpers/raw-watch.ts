// A Watch client that stops reading, the way a stuck consumer does: raw HTTP/2 over
// the Unix socket, the response stream paused, so flow control pushes back on the
// daemon (a grpc-js client would keep reading into its own buffer).
import { connect, type ClientHttp2Stream } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { WatchRequest } from '../../src/generated/couic/v1/replication.js';

export interface PausedWatch {
  /** Resumes reading to the end of the stream; resolves with its gRPC status and message. */
  drain(): Promise<{ status: string; message: string }>;
}

export async function openPausedWatch(socketPath: string, token: string): Promise<PausedWatch> {
  const session = connect('http://localhost', { createConnection: () => netConnect(socketPath), settings: { initialWindowSize: 16_384 } });
  session.on('error', () => undefined);
  const body = WatchRequest.encode({ policy: 0, tags: [], cursor: '' }).finish();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body).copy(frame, 5);
  const stream: ClientHttp2Stream = session.request({
    ':method': 'POST',
    ':path': '/couic.v1.ReplicationService/Watch',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  });
  const ended = new Promise<{ status: string; message: string }>((resolve) => {
    let status = '';
    let message = '';
    const note = (headers: Record<string, unknown>): void => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) message = decodeURIComponent(String(headers['grpc-message']));
    };
    stream.on('response', note);
    stream.on('trailers', note);
    stream.on('error', () => undefined);
    stream.on('close', () => {
      session.close();
      resolve({ status, message });
    });
  });
  stream.end(frame);
  await new Promise<void>((resolve) => stream.once('response', () => resolve()));
  stream.pause();
  return {
    drain() {
      stream.on('data', () => undefined);
      stream.resume();
      return ended;
    },
  };
}

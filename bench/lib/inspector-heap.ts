// V8 heap figures of another Node process (a daemon started with `inspect: true`):
// connects to its inspector over the DevTools protocol, forces a full garbage
// collection and reads process.memoryUsage() there, so "heap used" counts live
// objects only, not garbage waiting for the next GC. A minimal WebSocket client
// (text frames, one request at a time) keeps this free of npm packages; Node 20's
// WebSocket global needs a flag.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface HeapFigures {
  /** V8 heap in use after a forced full GC. */
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Memory of Buffers/ArrayBuffers outside the V8 heap. */
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** Resident set size right after that GC. */
  readonly rssBytes: number;
}

/** Forces a full GC in the process whose inspector listens on 127.0.0.1:port, then reads its memory usage. */
export async function readHeapAfterGc(port: number): Promise<HeapFigures> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`bench: no inspector target on port ${port}`);
  const client = await CdpClient.open(new URL(url));
  try {
    await client.call('HeapProfiler.collectGarbage');
    const result = (await client.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result?: { value?: string } };
    const usage = JSON.parse(result.result?.value ?? '{}') as Record<string, number>;
    return {
      heapUsedBytes: usage['heapUsed'] ?? Number.NaN,
      heapTotalBytes: usage['heapTotal'] ?? Number.NaN,
      externalBytes: usage['external'] ?? Number.NaN,
      arrayBuffersBytes: usage['arrayBuffers'] ?? Number.NaN,
      rssBytes: usage['rss'] ?? Number.NaN,
    };
  } finally {
    client.close();
  }
}

/** One DevTools protocol connection; calls are sequential. */
class CdpClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private waiting: { id: number; resolve: (value: unknown) => void; reject: (error: Error) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('bench: inspector connection closed')));
  }

  static open(url: URL): Promise<CdpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      const key = randomBytes(16).toString('base64');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      let head = Buffer.alloc(0);
      const onHead = (data: Buffer): void => {
        head = Buffer.concat([head, data]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onHead);
        socket.off('error', reject);
        if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error(`bench: inspector refused the WebSocket upgrade: ${head.subarray(0, end).toString('latin1')}`));
          return;
        }
        const client = new CdpClient(socket);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) client.onData(rest);
        resolve(client);
      };
      socket.on('data', onHead);
    });
  }

  call(method: string, params: object = {}): Promise<unknown> {
    if (this.waiting !== undefined) return Promise.reject(new Error('bench: one inspector call at a time'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting = { id, resolve, reject };
      this.sendText(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.waiting = undefined;
    this.socket.destroy();
  }

  private sendText(text: string): void {
    const payload = Buffer.from(text, 'utf8');
    const mask = randomBytes(4);
    const length = payload.length;
    const header =
      length < 126
        ? Buffer.from([0x81, 0x80 | length])
        : length < 65536
          ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 255])
          : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigEndian64(length)]);
    const masked = Buffer.alloc(length);
    for (let i = 0; i < length; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  /** Server frames are unmasked; text frames carry one JSON message each (no fragmentation used by V8). */
  private onData(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = (this.buffer[0] as number) & 0x0f;
      let length = (this.buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      if (opcode === 0x1) this.onMessage(payload.toString('utf8'));
    }
  }

  private onMessage(text: string): void {
    const message = JSON.parse(text) as { id?: number; result?: unknown; error?: { message?: string } };
    const waiting = this.waiting;
    if (waiting === undefined || message.id !== waiting.id) return; // events
    this.waiting = undefined;
    if (message.error !== undefined) waiting.reject(new Error(`bench: inspector: ${message.error.message ?? 'error'}`));
    else waiting.resolve(message.result);
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

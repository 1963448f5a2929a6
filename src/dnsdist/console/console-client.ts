// A client of dnsdist's console (`controlSocket()` + `setKey()`), written from its
// protocol: over TCP, each side sends a random 24-byte nonce; then every message is a
// 32-bit big-endian length followed by a secretbox frame sealed with the direction's
// nonce, which both sides increment per frame. One command is in flight at a time
// (the protocol has no request ids); callers' commands queue in order.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { ByteReader } from './byte-reader.js';
import { DirectionCipher } from './console-cipher.js';
import { deriveNonces, NONCE_BYTES } from './console-nonce.js';
import { ConsoleConnectionError, type ConsolePort } from './console-port.js';

export interface ConsoleClientOptions {
  readonly host: string;
  readonly port: number;
  readonly key: Uint8Array;
  readonly connectTimeoutMs?: number;
  /** A command that gets no answer in this time breaks the connection. */
  readonly commandTimeoutMs?: number;
  /** Largest answer accepted (showDynBlocks of a full table is tens of MB). */
  readonly maxAnswerBytes?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024;

export class ConsoleClient implements ConsolePort {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly reader: ByteReader,
    private readonly writer: DirectionCipher,
    private readonly readerCipher: DirectionCipher,
    private readonly options: ConsoleClientOptions,
  ) {}

  static async connect(options: ConsoleClientOptions): Promise<ConsoleClient> {
    const reader = new ByteReader();
    const socket = await openSocket(options.host, options.port, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (error) => reader.fail(new ConsoleConnectionError(`dnsdist console: ${error.message}`)));
    socket.on('close', () => reader.fail(new ConsoleConnectionError('dnsdist console closed the connection (wrong key, or console ACL?)')));
    try {
      const ours = new Uint8Array(randomBytes(NONCE_BYTES));
      socket.write(ours);
      const theirs = new Uint8Array(await withTimeout(reader.read(NONCE_BYTES), options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'nonce exchange'));
      const nonces = deriveNonces(ours, theirs);
      const client = new ConsoleClient(socket, reader, new DirectionCipher(options.key, nonces.writing), new DirectionCipher(options.key, nonces.reading), options);
      // A harmless first command proves the key: with a wrong one dnsdist closes the connection.
      await client.run('showVersion()');
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  run(command: string): Promise<string> {
    const result = this.queue.then(() => this.exchange(command));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
    this.reader.fail(new ConsoleConnectionError('console client closed'));
  }

  private async exchange(command: string): Promise<string> {
    if (this.closed) throw new ConsoleConnectionError('console client closed');
    const sealed = this.writer.seal(Buffer.from(command, 'utf8'));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(sealed.length, 0);
    this.socket.write(Buffer.concat([header, sealed]));
    const timeoutMs = this.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    try {
      const length = (await withTimeout(this.reader.read(4), timeoutMs, 'console answer')).readUInt32BE(0);
      if (length === 0) return '';
      if (length > (this.options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES)) throw new ConsoleConnectionError(`console answer of ${length} bytes is too large`);
      const body = await withTimeout(this.reader.read(length), timeoutMs, 'console answer');
      return Buffer.from(this.readerCipher.open(body)).toString('utf8');
    } catch (error) {
      // Nonces are per frame: after a lost or late frame the stream cannot continue.
      this.close();
      throw error;
    }
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConsoleConnectionError(`dnsdist console ${host}:${port}: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new ConsoleConnectionError(`dnsdist console ${host}:${port}: ${error.message}`));
    });
  });
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ConsoleConnectionError(`dnsdist console: no ${what} within ${timeoutMs} ms`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

// Reads exact byte counts from a stream of chunks (a socket's 'data' events), in order.
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: { bytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.serve();
  }

  /** Fails the pending and every later read (connection closed or broken). */
  fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }

  read(bytes: number): Promise<Buffer> {
    if (this.waiting !== undefined) return Promise.reject(new Error('ByteReader: one read at a time'));
    return new Promise((resolve, reject) => {
      this.waiting = { bytes, resolve, reject };
      this.serve();
    });
  }

  private serve(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (this.buffered >= waiting.bytes) {
      this.waiting = undefined;
      waiting.resolve(this.take(waiting.bytes));
    } else if (this.failure !== undefined) {
      this.waiting = undefined;
      waiting.reject(this.failure);
    }
  }

  private take(bytes: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, bytes);
    const rest = all.subarray(bytes);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

// The outgoing half of a gRPC stream as an async iterable: the mesh session pushes
// (it never waits: its ack window bounds what it queues), gRPC pulls. Ending or
// failing the queue ends the stream, normally or with that error.
export class MessageQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private failWaiter: ((error: unknown) => void) | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;

  get length(): number {
    return this.items.length;
  }

  get closed(): boolean {
    return this.ended || this.failure !== undefined;
  }

  push(item: T): void {
    if (this.closed) throw new Error('stream closed');
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.clearWaiter();
      waiter({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** No more items: the consumer finishes after draining what is queued. */
  end(): void {
    if (this.closed) return;
    this.ended = true;
    const waiter = this.waiter;
    if (waiter !== undefined && this.items.length === 0) {
      this.clearWaiter();
      waiter({ value: undefined, done: true });
    }
  }

  /** The consumer throws `error` at once (queued items are dropped: the stream is broken anyway). */
  fail(error: unknown): void {
    if (this.closed) return;
    this.failure = { error };
    this.items.length = 0;
    const failWaiter = this.failWaiter;
    if (failWaiter !== undefined) {
      this.clearWaiter();
      failWaiter(error);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.failure !== undefined) return Promise.reject(this.failure.error);
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.end();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private clearWaiter(): void {
    this.waiter = undefined;
    this.failWaiter = undefined;
  }
}

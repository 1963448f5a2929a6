// Writes many entries into one map: BPF_MAP_*_BATCH in chunks (yielding to the
// event loop between chunks so the API stays responsive), falling back to one
// syscall per entry where the kernel has no batch ops for the map. Reports each
// entry that failed instead of stopping at the first.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BpfError } from './bpf-error.js';
import { mapDelete, mapDeleteBatch, mapUpdate, mapUpdateBatch } from './libbpf.js';

/** Entries per batch syscall: ~10 ms of LPM inserts, short enough not to stall the API. */
export const BATCH_CHUNK = 4096;

export interface WriteFailure<T> {
  readonly item: T;
  readonly error: BpfError;
}

/** Errors meaning "this map type has no batch ops here". */
const NO_BATCH = new Set([22 /* EINVAL */, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */]);

export class MapWriter {
  private batchSupported = true;

  constructor(
    readonly fd: number,
    readonly keySize: number,
    readonly valueSize: number,
  ) {}

  get usesBatches(): boolean {
    return this.batchSupported;
  }

  async upsert<T>(items: readonly T[], key: (item: T) => Uint8Array, value: (item: T) => Uint8Array): Promise<WriteFailure<T>[]> {
    const failures: WriteFailure<T>[] = [];
    for (let start = 0; start < items.length; start += BATCH_CHUNK) {
      if (start > 0) await yieldToLoop();
      const chunk = items.slice(start, start + BATCH_CHUNK);
      if (this.batchSupported) {
        const keys = Buffer.alloc(chunk.length * this.keySize);
        const values = Buffer.alloc(chunk.length * this.valueSize);
        chunk.forEach((item, i) => {
          keys.set(key(item), i * this.keySize);
          values.set(value(item), i * this.valueSize);
        });
        let offset = 0;
        while (offset < chunk.length) {
          const n = chunk.length - offset;
          const result = mapUpdateBatch(this.fd, keys.subarray(offset * this.keySize), values.subarray(offset * this.valueSize), n);
          if (result.error === undefined) break;
          if (offset === 0 && result.done === 0 && NO_BATCH.has(result.error.errno) && this.probeNoBatch(chunk, key, value)) {
            for (const failure of this.singleUpserts(chunk, key, value)) failures.push(failure);
            break;
          }
          const failed = chunk[offset + result.done];
          if (failed !== undefined) failures.push({ item: failed, error: result.error });
          offset += result.done + 1;
        }
      } else {
        for (const failure of this.singleUpserts(chunk, key, value)) failures.push(failure);
      }
    }
    return failures;
  }

  /** Deletes; an absent key counts as deleted. */
  async delete<T>(items: readonly T[], key: (item: T) => Uint8Array): Promise<WriteFailure<T>[]> {
    const failures: WriteFailure<T>[] = [];
    for (let start = 0; start < items.length; start += BATCH_CHUNK) {
      if (start > 0) await yieldToLoop();
      const chunk = items.slice(start, start + BATCH_CHUNK);
      if (this.batchSupported) {
        const keys = Buffer.alloc(chunk.length * this.keySize);
        chunk.forEach((item, i) => keys.set(key(item), i * this.keySize));
        let offset = 0;
        while (offset < chunk.length) {
          const result = mapDeleteBatch(this.fd, keys.subarray(offset * this.keySize), chunk.length - offset);
          if (result.error === undefined) break;
          const failed = chunk[offset + result.done];
          if (result.error.errno === 2) {
            offset += result.done + 1; // absent: already what we want
            continue;
          }
          if (offset === 0 && result.done === 0 && NO_BATCH.has(result.error.errno)) {
            this.batchSupported = false;
            for (const failure of this.singleDeletes(chunk, key)) failures.push(failure);
            break;
          }
          if (failed !== undefined) failures.push({ item: failed, error: result.error });
          offset += result.done + 1;
        }
      } else {
        for (const failure of this.singleDeletes(chunk, key)) failures.push(failure);
      }
    }
    return failures;
  }

  /** A batch refused with EINVAL: is it the map (no batch ops) or the first entry? */
  private probeNoBatch<T>(chunk: readonly T[], key: (item: T) => Uint8Array, value: (item: T) => Uint8Array): boolean {
    const first = chunk[0];
    if (first === undefined) return false;
    try {
      mapUpdate(this.fd, key(first), value(first));
    } catch {
      return false; // the entry itself is refused: keep batches, report it
    }
    this.batchSupported = false;
    return true;
  }

  private singleUpserts<T>(items: readonly T[], key: (item: T) => Uint8Array, value: (item: T) => Uint8Array): WriteFailure<T>[] {
    const failures: WriteFailure<T>[] = [];
    for (const item of items) {
      try {
        mapUpdate(this.fd, key(item), value(item));
      } catch (error) {
        failures.push({ item, error: asBpfError(error) });
      }
    }
    return failures;
  }

  private singleDeletes<T>(items: readonly T[], key: (item: T) => Uint8Array): WriteFailure<T>[] {
    const failures: WriteFailure<T>[] = [];
    for (const item of items) {
      try {
        mapDelete(this.fd, key(item));
      } catch (error) {
        failures.push({ item, error: asBpfError(error) });
      }
    }
    return failures;
  }
}

function asBpfError(error: unknown): BpfError {
  return error instanceof BpfError ? error : new BpfError('map write', 5, String(error));
}

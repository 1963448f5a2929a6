// Keeps the program's `empty_tries` flags: a trie marked empty is not looked up
// (an LPM lookup is the costliest step of the program; bpf/README.md has the
// figures). The invariant that keeps filtering correct: a trie is marked empty
// only when the kernel says it holds nothing, and the mark is cleared *before*
// anything is written into it. A fresh map (all zero) marks nothing, so an object
// loaded by anyone else, or pins from an older version, filter correctly.
import type { AddressFamily } from '../../domain/cidr.js';
import type { Policy } from '../../domain/policy.js';
import { arrayKey, EMPTY_TRIES_FIELDS, EMPTY_TRIES_MAP, keySize, RULE_MAPS } from './layout.js';
import { mapLookup, mapNextKey, mapUpdate, type LoadedObject } from './libbpf.js';

export class EmptyTries {
  private readonly value = Buffer.alloc(4 * EMPTY_TRIES_FIELDS.length);
  private readonly fd: number;

  constructor(private readonly object: LoadedObject) {
    this.fd = object.mapFd(EMPTY_TRIES_MAP);
    // Start from what the (possibly pinned) map says, so a stale mark is cleared
    // before the first insert even if syncAll() is never called.
    mapLookup(this.fd, arrayKey(0), this.value);
  }

  /** Marks every trie from what the kernel holds now (at start, before attaching). */
  syncAll(): void {
    for (const [index, { policy, family }] of EMPTY_TRIES_FIELDS.entries()) {
      this.value.writeUInt32LE(this.kernelEmpty(policy, family) ? 1 : 0, 4 * index);
    }
    this.store();
  }

  /** Before writing entries into a trie: from now on the program looks it up. Throws (BpfError) when the mark cannot be cleared: then nothing must be written. */
  beforeInsert(policy: Policy, family: AddressFamily): void {
    const offset = this.offset(policy, family);
    if (this.value.readUInt32LE(offset) === 0) return;
    this.value.writeUInt32LE(0, offset);
    this.store();
  }

  /** After deleting from a trie: marks it empty when the kernel holds nothing in it. */
  afterDelete(policy: Policy, family: AddressFamily): void {
    const offset = this.offset(policy, family);
    if (this.value.readUInt32LE(offset) !== 0 || !this.kernelEmpty(policy, family)) return;
    this.value.writeUInt32LE(1, offset);
    this.store();
  }

  /** Whether the program currently skips this trie (as last written). */
  isMarkedEmpty(policy: Policy, family: AddressFamily): boolean {
    return this.value.readUInt32LE(this.offset(policy, family)) !== 0;
  }

  private kernelEmpty(policy: Policy, family: AddressFamily): boolean {
    return !mapNextKey(this.object.mapFd(RULE_MAPS[policy][family]), null, Buffer.alloc(keySize(family)));
  }

  private offset(policy: Policy, family: AddressFamily): number {
    return 4 * EMPTY_TRIES_FIELDS.findIndex((f) => f.policy === policy && f.family === family);
  }

  private store(): void {
    mapUpdate(this.fd, arrayKey(0), this.value);
  }
}

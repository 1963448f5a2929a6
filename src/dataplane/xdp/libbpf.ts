// The slice of the system libbpf (Debian libbpf1, libbpf.so.1) the XDP data plane
// uses, bound through koffi (FFI: no native addon to compile at install). Thin:
// every call returns plain numbers or throws BpfError; policy lives in the callers.
import { readFileSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import { BpfError } from './bpf-error.js';

/** enum bpf_attach_type BPF_XDP (uapi linux/bpf.h). */
const BPF_XDP = 37;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
/** bpf_map_update_elem flags. */
export const BPF_ANY = 0;

/** Opaque libbpf handles (struct bpf_object *, bpf_program *, bpf_map *). */
export type BpfObjectHandle = { readonly __brand: 'bpf_object' };
type ProgramHandle = { readonly __brand: 'bpf_program' };
type MapHandle = { readonly __brand: 'bpf_map' };

type Ptr = Buffer | Uint8Array | Uint32Array | null;

interface Api {
  open(path: string, opts: null): BpfObjectHandle | null;
  load(obj: BpfObjectHandle): number;
  close(obj: BpfObjectHandle): void;
  findProgram(obj: BpfObjectHandle, name: string): ProgramHandle | null;
  programFd(prog: ProgramHandle): number;
  findMap(obj: BpfObjectHandle, name: string): MapHandle | null;
  mapFd(map: MapHandle): number;
  setPinPath(map: MapHandle, path: string): number;
  linkCreate(progFd: number, ifindex: number, attachType: number, opts: Ptr): number;
  linkUpdate(linkFd: number, progFd: number, opts: null): number;
  linkInfo(fd: number, info: Ptr, len: Uint32Array): number;
  objPin(fd: number, path: string): number;
  objGet(path: string): number;
  update(fd: number, key: Ptr, value: Ptr, flags: number): number;
  lookup(fd: number, key: Ptr, value: Ptr): number;
  remove(fd: number, key: Ptr): number;
  nextKey(fd: number, key: Ptr, next: Ptr): number;
  updateBatch(fd: number, keys: Ptr, values: Ptr, count: Uint32Array, opts: null): number;
  deleteBatch(fd: number, keys: Ptr, count: Uint32Array, opts: null): number;
  lookupBatch(fd: number, inBatch: Ptr, outBatch: Ptr, keys: Ptr, values: Ptr, count: Uint32Array, opts: null): number;
  testRun(progFd: number, opts: Ptr): number;
  possibleCpus(): number;
  setPrint(fn: null): null;
  closeFd(fd: number): number;
  ifNameToIndex(name: string): number;
  mount(source: string, target: string, fstype: string, flags: number, data: null): number;
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): unknown;
  munmap(addr: unknown, length: number): number;
}

let api: Api | undefined;

/** Loads libbpf.so.1 once; throws BpfError when the library is not installed. */
export function libbpf(): Api {
  if (api !== undefined) return api;
  let lib: LibraryHandle;
  let libc: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
    libc = koffi.load('libc.so.6');
  } catch (error) {
    throw new BpfError('load libbpf.so.1', 2, `${error instanceof Error ? error.message : String(error)} (install Debian libbpf1)`);
  }
  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  const f = <T>(signature: string, from: LibraryHandle = lib): T => from.func(signature) as T;
  api = {
    open: f('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
    load: f('int bpf_object__load(bpf_object *obj)'),
    close: f('void bpf_object__close(bpf_object *obj)'),
    findProgram: f('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
    programFd: f('int bpf_program__fd(bpf_program *prog)'),
    findMap: f('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
    mapFd: f('int bpf_map__fd(bpf_map *map)'),
    setPinPath: f('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
    linkCreate: f('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'),
    linkUpdate: f('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'),
    linkInfo: f('int bpf_obj_get_info_by_fd(int fd, void *info, uint32_t *len)'),
    objPin: f('int bpf_obj_pin(int fd, const char *path)'),
    objGet: f('int bpf_obj_get(const char *path)'),
    update: f('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'),
    lookup: f('int bpf_map_lookup_elem(int fd, void *key, void *value)'),
    remove: f('int bpf_map_delete_elem(int fd, void *key)'),
    nextKey: f('int bpf_map_get_next_key(int fd, void *key, void *next_key)'),
    updateBatch: f('int bpf_map_update_batch(int fd, void *keys, void *values, uint32_t *count, void *opts)'),
    deleteBatch: f('int bpf_map_delete_batch(int fd, void *keys, uint32_t *count, void *opts)'),
    lookupBatch: f('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, uint32_t *count, void *opts)'),
    testRun: f('int bpf_prog_test_run_opts(int prog_fd, void *opts)'),
    possibleCpus: f('int libbpf_num_possible_cpus()'),
    setPrint: f('void *libbpf_set_print(void *fn)'),
    closeFd: f('int close(int fd)', libc),
    ifNameToIndex: f('unsigned int if_nametoindex(const char *name)', libc),
    mount: f('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, void *data)', libc),
    mmap: f('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)', libc),
    munmap: f('int munmap(void *addr, size_t length)', libc),
  };
  // libbpf prints warnings (and verifier logs) to stderr; couic reports errors itself.
  if (process.env.COUIC_LIBBPF_DEBUG === undefined) api.setPrint(null);
  return api;
}

/** libbpf returns -errno; libc returns -1 and sets errno. */
function check(operation: string, result: number): number {
  if (result >= 0) return result;
  throw new BpfError(operation, result === -1 ? koffi.errno() || 1 : -result);
}

function checkLibc(operation: string, result: number): number {
  if (result >= 0) return result;
  throw new BpfError(operation, koffi.errno());
}

export interface LoadedObject {
  readonly handle: BpfObjectHandle;
  programFd(name: string): number;
  mapFd(name: string): number;
  close(): void;
}

/**
 * Opens and loads a BPF object. `pinPaths` maps map names to bpffs paths: libbpf
 * reuses a compatible map pinned there, or creates the map and pins it on load.
 */
export function loadObject(path: string, pinPaths: ReadonlyMap<string, string> = new Map()): LoadedObject {
  const bpf = libbpf();
  koffi.errno(0);
  const handle = bpf.open(path, null);
  if (handle === null) throw new BpfError(`open ${path}`, koffi.errno() || 2);
  try {
    for (const [name, pinPath] of pinPaths) {
      const map = bpf.findMap(handle, name);
      if (map === null) throw new BpfError(`find map ${name} in ${path}`, 2);
      check(`set pin path of map ${name}`, bpf.setPinPath(map, pinPath));
    }
    check(`load ${path}`, bpf.load(handle));
  } catch (error) {
    bpf.close(handle);
    throw error;
  }
  return {
    handle,
    programFd(name) {
      const prog = bpf.findProgram(handle, name);
      if (prog === null) throw new BpfError(`find program ${name}`, 2);
      return check(`fd of program ${name}`, bpf.programFd(prog));
    },
    mapFd(name) {
      const map = bpf.findMap(handle, name);
      if (map === null) throw new BpfError(`find map ${name}`, 2);
      return check(`fd of map ${name}`, bpf.mapFd(map));
    },
    close() {
      bpf.close(handle);
    },
  };
}

/** Creates an XDP bpf_link (flags: XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE); returns its fd. */
export function createXdpLink(progFd: number, ifindex: number, flags: number): number {
  const opts = Buffer.alloc(16); // struct bpf_link_create_opts up to `flags` (libbpf accepts shorter opts)
  opts.writeBigUInt64LE(16n, 0);
  opts.writeUInt32LE(flags, 8);
  return check(`attach XDP to ifindex ${ifindex}`, libbpf().linkCreate(progFd, ifindex, BPF_XDP, opts));
}

/** Swaps the program of a link atomically (no window without a program). */
export function updateLink(linkFd: number, progFd: number): void {
  check('replace the program of the XDP link', libbpf().linkUpdate(linkFd, progFd, null));
}

/** Interface index an XDP link is attached to (0 once the interface is gone). */
export function xdpLinkIfindex(linkFd: number): number {
  const info = Buffer.alloc(48); // struct bpf_link_info; xdp.ifindex at offset 16
  const len = new Uint32Array([info.length]);
  check('read link info', libbpf().linkInfo(linkFd, info, len));
  return info.readUInt32LE(16);
}

export function pinObject(fd: number, path: string): void {
  check(`pin ${path}`, libbpf().objPin(fd, path));
}

/** fd of a pinned object, or undefined when nothing is pinned at `path`. */
export function openPinned(path: string): number | undefined {
  const fd = libbpf().objGet(path);
  if (fd >= 0) return fd;
  const errno = fd === -1 ? koffi.errno() : -fd;
  if (errno === 2) return undefined;
  throw new BpfError(`open pinned ${path}`, errno);
}

export function closeFd(fd: number): void {
  libbpf().closeFd(fd);
}

export function possibleCpus(): number {
  return check('count possible CPUs', libbpf().possibleCpus());
}

export function interfaceIndex(name: string): number | undefined {
  const index = libbpf().ifNameToIndex(name);
  return index === 0 ? undefined : index;
}

export function mountBpffs(target: string): void {
  checkLibc(`mount bpffs on ${target}`, libbpf().mount('bpf', target, 'bpf', 0, null));
}

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array): void {
  check('map update', libbpf().update(fd, key, value, BPF_ANY));
}

/** false when the key is absent. */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  const result = libbpf().lookup(fd, key, value);
  if (result === -2) return false;
  check('map lookup', result);
  return true;
}

/** false when the key was absent. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const result = libbpf().remove(fd, key);
  if (result === -2) return false;
  check('map delete', result);
  return true;
}

/** Next key after `key` (null: first); false at the end. */
export function mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const result = libbpf().nextKey(fd, key, next);
  if (result === -2) return false;
  check('map get next key', result);
  return true;
}

/**
 * One BPF_MAP_UPDATE_BATCH call. Returns how many leading elements the kernel applied
 * and the error that stopped it (undefined when all were applied).
 */
export function mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number): { done: number; error?: BpfError } {
  const counter = new Uint32Array([count]);
  const result = libbpf().updateBatch(fd, keys, values, counter, null);
  if (result >= 0) return { done: count };
  return { done: counter[0] ?? 0, error: new BpfError('map update batch', -result) };
}

export function mapDeleteBatch(fd: number, keys: Uint8Array, count: number): { done: number; error?: BpfError } {
  const counter = new Uint32Array([count]);
  const result = libbpf().deleteBatch(fd, keys, counter, null);
  if (result >= 0) return { done: count };
  return { done: counter[0] ?? 0, error: new BpfError('map delete batch', -result) };
}

/**
 * Reads a whole hash map with BPF_MAP_LOOKUP_BATCH, `chunk` entries per call;
 * returns keys and values back to back. Throws BpfError (EINVAL/ENOTSUPP: no batch ops).
 */
export function mapLookupAll(fd: number, keySize: number, valueSize: number, chunk = 4096): { keys: Buffer; values: Buffer; count: number } {
  const bpf = libbpf();
  const keyParts: Buffer[] = [];
  const valueParts: Buffer[] = [];
  let total = 0;
  const inBatch = Buffer.alloc(8);
  const outBatch = Buffer.alloc(8);
  let first = true;
  for (;;) {
    const keys = Buffer.alloc(chunk * keySize);
    const values = Buffer.alloc(chunk * valueSize);
    const count = new Uint32Array([chunk]);
    const result = bpf.lookupBatch(fd, first ? null : inBatch, outBatch, keys, values, count, null);
    const got = count[0] ?? 0;
    if (result < 0 && -result !== 2) throw new BpfError('map lookup batch', -result);
    keyParts.push(keys.subarray(0, got * keySize));
    valueParts.push(values.subarray(0, got * valueSize));
    total += got;
    if (result < 0) break; // ENOENT: that was the last chunk
    outBatch.copy(inBatch);
    first = false;
  }
  return { keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts), count: total };
}

export interface TestRunResult {
  readonly retval: number;
  /** Average ns per run, as the kernel measured it. */
  readonly durationNs: number;
}

/** BPF_PROG_TEST_RUN: runs an XDP program `repeat` times on `packet`. */
export function testRun(progFd: number, packet: Uint8Array, repeat: number): TestRunResult {
  const data = Buffer.from(packet);
  const opts = Buffer.alloc(80); // struct bpf_test_run_opts (libbpf 1.1)
  opts.writeBigUInt64LE(80n, 0);
  opts.writeBigUInt64LE(BigInt(koffi.address(data)), 8);
  opts.writeUInt32LE(data.length, 24);
  opts.writeInt32LE(repeat, 60);
  check('BPF_PROG_TEST_RUN', libbpf().testRun(progFd, opts));
  return { retval: opts.readUInt32LE(56), durationNs: opts.readUInt32LE(64) };
}

/** A BPF_F_MMAPABLE array map mapped into this process: writes are plain stores into the kernel's memory. */
export interface MappedArray {
  readonly buffer: ArrayBuffer;
  unmap(): void;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** mmap()s `length` bytes of an mmapable array map (its elements, back to back). */
export function mapArray(fd: number, length: number): MappedArray {
  const bpf = libbpf();
  const address = bpf.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const raw = koffi.address(address);
  if (raw === 0n || raw === BigInt('0xffffffffffffffff')) throw new BpfError('mmap a BPF array map', koffi.errno() || 22);
  const buffer = koffi.view(address, length);
  let mapped = true;
  return {
    buffer,
    unmap() {
      if (!mapped) return;
      mapped = false;
      bpf.munmap(address, length);
    },
  };
}

/** Kernel memory a map charges (the memlock line of its fdinfo), in bytes. */
export function mapMemoryBytes(fd: number): number | undefined {
  try {
    const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const match = /^memlock:\s*(\d+)/m.exec(info);
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

// Static set files under <working_dir>/sets/{drop,ignore}/<name>.couic. The files are
// the source of truth (admins may edit them, then reload), so reads go to disk; the
// rule store holds what is applied. A file that is not private (mode 0600), too big,
// badly named or holding any invalid line is refused as a whole with a warning: a
// half-loaded blocklist would silently let traffic through.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tryParseCidr, type Cidr } from '../domain/cidr.js';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type FieldViolation,
} from '../domain/errors.js';
import { POLICIES, isPolicy, type Policy } from '../domain/policy.js';
import { checkName } from '../domain/validation.js';
import {
  ensurePrivateDir,
  errorCode,
  readPrivateFile,
  removeFile,
  removeStaleTempFiles,
  stderrWarnLogger,
  writePrivateFileAtomic,
  type WarnLogger,
} from '../files/private-file.js';
import { MAX_SET_FILE_BYTES, SET_FILE_SUFFIX, formatSetFile, parseSetFile } from './set-file.js';

export type { WarnLogger } from '../files/private-file.js';

export interface LoadedSet {
  readonly policy: Policy;
  readonly name: string;
  /** Normalised, duplicates folded, in file order. */
  readonly cidrs: Cidr[];
}

export interface RefusedSetFile {
  readonly policy: Policy;
  readonly file: string;
  readonly reason: string;
}

export interface SetScan {
  readonly sets: LoadedSet[];
  readonly refused: RefusedSetFile[];
}

export interface SetRepositoryOptions {
  /** Receives one warning per refused file; defaults to stderr. */
  readonly logger?: WarnLogger | undefined;
  /** When set, set files owned by another uid are refused too. */
  readonly ownerUid?: number | undefined;
}

/** How many bad lines (or bad request entries) an error message quotes. */
const MAX_REPORTED_ERRORS = 5;
const MAX_REPORTED_VIOLATIONS = 20;

export function setsDirOf(workingDir: string): string {
  return join(workingDir, 'sets');
}

export class SetRepository {
  /** Serialises writes so concurrent create/update/delete calls cannot interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly logger: WarnLogger,
    private readonly ownerUid: number | undefined,
  ) {}

  /** Creates `dir/drop` and `dir/ignore` (mode 0700) when missing. */
  static async open(dir: string, options: SetRepositoryOptions = {}): Promise<SetRepository> {
    for (const policy of POLICIES) {
      await ensurePrivateDir(join(dir, policy));
      await removeStaleTempFiles(join(dir, policy));
    }
    return new SetRepository(dir, options.logger ?? stderrWarnLogger, options.ownerUid);
  }

  filePath(policy: Policy, name: string): string {
    return join(this.dir, policy, `${name}${SET_FILE_SUFFIX}`);
  }

  /** Reads every set file; each refused file is reported through the logger. */
  async scan(): Promise<SetScan> {
    const result = await this.readAll();
    for (const r of result.refused) {
      this.logger.warn({ file: r.file, policy: r.policy, reason: r.reason }, `set file refused: ${r.reason}`);
    }
    return result;
  }

  /** Every valid set (drop first, then ignore; by name); refused files are logged and skipped. */
  async loadAll(): Promise<LoadedSet[]> {
    return (await this.scan()).sets;
  }

  /** Valid sets, optionally of one policy, without logging refusals again. */
  async list(policy?: Policy): Promise<LoadedSet[]> {
    const { sets } = await this.readAll();
    return policy === undefined ? sets : sets.filter((s) => s.policy === policy);
  }

  async get(policy: Policy, name: string): Promise<LoadedSet> {
    checkTarget(policy, name);
    const loaded = await this.readSet(policy, name);
    if (loaded === undefined) throw new NotFoundError(`set "${name}" (policy ${policy}) not found`);
    if (typeof loaded === 'string') {
      throw new FailedPreconditionError(`set file ${this.filePath(policy, name)} is refused: ${loaded}`);
    }
    return loaded;
  }

  /** Writes a new set file; the caller applies it (reload) to the rule store. */
  create(policy: Policy, name: string, cidrs: readonly string[]): Promise<LoadedSet> {
    return this.serialised(async () => {
      const { set, content } = buildSet(policy, name, cidrs);
      await ensurePrivateDir(join(this.dir, policy));
      try {
        await writePrivateFileAtomic(this.filePath(policy, name), content, false);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') throw new AlreadyExistsError(`set "${name}" (policy ${policy}) already exists`);
        throw error;
      }
      return set;
    });
  }

  /** Replaces the whole content of an existing set file. */
  update(policy: Policy, name: string, cidrs: readonly string[]): Promise<LoadedSet> {
    return this.serialised(async () => {
      const { set, content } = buildSet(policy, name, cidrs);
      const path = this.filePath(policy, name);
      try {
        await stat(path);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') throw new NotFoundError(`set "${name}" (policy ${policy}) not found`);
        throw error;
      }
      await writePrivateFileAtomic(path, content, true);
      return set;
    });
  }

  delete(policy: Policy, name: string): Promise<void> {
    return this.serialised(async () => {
      checkTarget(policy, name);
      if (!(await removeFile(this.filePath(policy, name)))) {
        throw new NotFoundError(`set "${name}" (policy ${policy}) not found`);
      }
    });
  }

  private async readAll(): Promise<SetScan> {
    const sets: LoadedSet[] = [];
    const refused: RefusedSetFile[] = [];
    for (const policy of POLICIES) {
      for (const fileName of await this.setFileNames(policy)) {
        const name = fileName.slice(0, -SET_FILE_SUFFIX.length);
        const loaded = await this.readSet(policy, name);
        if (loaded === undefined) continue; // removed while we were listing
        if (typeof loaded === 'string') refused.push({ policy, file: join(this.dir, policy, fileName), reason: loaded });
        else sets.push(loaded);
      }
    }
    return { sets, refused };
  }

  private async setFileNames(policy: Policy): Promise<string[]> {
    try {
      const names = await readdir(join(this.dir, policy));
      return names.filter((n) => n.endsWith(SET_FILE_SUFFIX) && !n.startsWith('.')).sort();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
  }

  /** The set, the reason its file is refused, or undefined when there is no file. */
  private async readSet(policy: Policy, name: string): Promise<LoadedSet | string | undefined> {
    const nameProblem = checkName(name);
    if (nameProblem !== undefined) return `file name is not a valid set name: name ${nameProblem}`;
    const read = await readPrivateFile(this.filePath(policy, name), {
      maxBytes: MAX_SET_FILE_BYTES,
      ownerUid: this.ownerUid,
    });
    if (!read.ok) return read.missing ? undefined : `file ${read.reason}`;
    const parsed = parseSetFile(read.text, { policy, name });
    if (parsed.errors.length > 0) {
      const quoted = parsed.errors.slice(0, MAX_REPORTED_ERRORS).map((e) => `line ${e.line}: ${e.message}`);
      const more = parsed.errors.length - quoted.length;
      return (
        `${parsed.errors.length} invalid line(s), whole file ignored: ${quoted.join('; ')}` +
        (more > 0 ? `; and ${more} more` : '')
      );
    }
    return { policy, name, cidrs: parsed.cidrs };
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function checkTarget(policy: Policy, name: string): void {
  const violations = targetViolations(policy, name);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
}

function targetViolations(policy: Policy, name: string): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (!isPolicy(policy)) violations.push({ field: 'policy', message: `must be one of ${POLICIES.join(', ')}` });
  const nameProblem = checkName(name);
  if (nameProblem !== undefined) violations.push({ field: 'name', message: nameProblem });
  return violations;
}

/** Validates a create/update request: every bad CIDR is reported as `cidrs[i]`. */
function buildSet(policy: Policy, name: string, inputs: readonly string[]): { set: LoadedSet; content: string } {
  const violations = targetViolations(policy, name);
  let invalid = 0;
  const cidrs: Cidr[] = [];
  const seen = new Set<string>();
  inputs.forEach((input, index) => {
    const cidr = tryParseCidr(input);
    if (typeof cidr === 'string') {
      invalid += 1;
      if (invalid <= MAX_REPORTED_VIOLATIONS) violations.push({ field: `cidrs[${index}]`, message: cidr });
    } else if (!seen.has(cidr.text)) {
      seen.add(cidr.text);
      cidrs.push(cidr);
    }
  });
  if (invalid > MAX_REPORTED_VIOLATIONS) {
    violations.push({ field: 'cidrs', message: `and ${invalid - MAX_REPORTED_VIOLATIONS} more invalid entries` });
  }
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  const set = { policy, name, cidrs };
  const content = formatSetFile(set, cidrs);
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes > MAX_SET_FILE_BYTES) {
    throw InvalidArgumentError.single('cidrs', `the set file would be ${bytes} bytes; the limit is ${MAX_SET_FILE_BYTES} bytes`);
  }
  return { set, content };
}

// API clients (name, group, token), one TOML file each under
// <working_dir>/rbac/clients/. Loaded once at start and kept in memory: the daemon is
// the only writer, and every authenticated call needs an O(1) token lookup.
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../domain/errors.js';
import { checkName } from '../domain/validation.js';
import { CLIENT_FILE_SUFFIX, checkGroup, formatClientFile, parseClientFile, type Client } from './client-file.js';
import { isGroup, type Group } from './permissions.js';
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

export type { Client } from './client-file.js';
export type { WarnLogger } from '../files/private-file.js';

/** Name and group of the client created at first start, used by couicctl in local mode. */
export const DEFAULT_ADMIN_NAME = 'couicctl';
export const DEFAULT_ADMIN_GROUP: Group = 'admin';
/** A client file is three short lines; anything much bigger is not one. */
export const MAX_CLIENT_FILE_BYTES = 64 * 1024;

export interface ClientRegistryOptions {
  /** Receives one warning per refused file; defaults to stderr. */
  readonly logger?: WarnLogger | undefined;
  /** When set, client files owned by another uid are refused too. */
  readonly ownerUid?: number | undefined;
}

/** A client file that was not loaded, and why. */
export interface RefusedFile {
  readonly file: string;
  readonly reason: string;
}

export function clientsDirOf(workingDir: string): string {
  return join(workingDir, 'rbac', 'clients');
}

export class ClientRegistry {
  private readonly byName = new Map<string, Client>();
  private readonly byToken = new Map<string, Client>();
  private refusedFiles: RefusedFile[] = [];
  /** Serialises mutations so concurrent add/delete calls cannot interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly logger: WarnLogger,
  ) {}

  /** Creates `dir` (mode 0700) when missing and loads every valid `*.toml` client file. */
  static async open(dir: string, options: ClientRegistryOptions = {}): Promise<ClientRegistry> {
    const registry = new ClientRegistry(dir, options.logger ?? stderrWarnLogger);
    await ensurePrivateDir(dir);
    await removeStaleTempFiles(dir);
    await registry.load(options.ownerUid);
    return registry;
  }

  /** Files refused by the last load (also reported through the logger). */
  get refused(): readonly RefusedFile[] {
    return this.refusedFiles;
  }

  get size(): number {
    return this.byName.size;
  }

  clientFilePath(name: string): string {
    return join(this.dir, `${name}${CLIENT_FILE_SUFFIX}`);
  }

  /** Creates a client with a fresh UUIDv4 token and writes its file (mode 0600). */
  add(name: string, group: string): Promise<Client> {
    return this.serialised(async () => {
      const nameProblem = checkName(name);
      if (nameProblem !== undefined || !isGroup(group)) {
        throw new InvalidArgumentError([
          ...(nameProblem === undefined ? [] : [{ field: 'name', message: nameProblem }]),
          ...(isGroup(group) ? [] : [{ field: 'group', message: checkGroup(group) ?? '' }]),
        ]);
      }
      if (this.byName.has(name)) throw new AlreadyExistsError(`client "${name}" already exists`);
      const client: Client = { name, group, token: randomUUID() };
      try {
        await writePrivateFileAtomic(this.clientFilePath(name), formatClientFile(client), false);
      } catch (error) {
        // A refused (e.g. mode 0644) file of that name is still there: never overwrite it.
        if (errorCode(error) === 'EEXIST') {
          throw new AlreadyExistsError(
            `client file ${this.clientFilePath(name)} already exists but was not loaded; fix or remove it first`,
          );
        }
        throw error;
      }
      this.index(client);
      return client;
    });
  }

  get(name: string): Client {
    const client = this.byName.get(name);
    if (client === undefined) throw new NotFoundError(`client "${name}" not found`);
    return client;
  }

  /** Every loaded client, sorted by name (code-point order, stable across locales). */
  list(): Client[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Removes the client and its file; returns what was removed. */
  delete(name: string): Promise<Client> {
    return this.serialised(async () => {
      const client = this.get(name);
      await removeFile(this.clientFilePath(name));
      this.byName.delete(name);
      this.byToken.delete(client.token);
      return client;
    });
  }

  /** O(1) lookup for authentication; exact string comparison. */
  findByToken(token: string): Client | undefined {
    return this.byToken.get(token);
  }

  /**
   * First start: when the directory holds no client file at all (refused ones count,
   * so a mis-permissioned couicctl.toml is never silently replaced), creates
   * `couicctl` in group `admin` and returns its file path; otherwise undefined.
   */
  async ensureDefaultAdmin(): Promise<string | undefined> {
    const names = await readdir(this.dir);
    if (names.some((n) => n.endsWith(CLIENT_FILE_SUFFIX) && !n.startsWith('.'))) return undefined;
    await this.add(DEFAULT_ADMIN_NAME, DEFAULT_ADMIN_GROUP);
    return this.clientFilePath(DEFAULT_ADMIN_NAME);
  }

  private async load(ownerUid: number | undefined): Promise<void> {
    const candidates: Client[] = [];
    const refused: RefusedFile[] = [];
    const files = (await readdir(this.dir)).filter((n) => n.endsWith(CLIENT_FILE_SUFFIX) && !n.startsWith('.')).sort();
    for (const fileName of files) {
      const file = join(this.dir, fileName);
      const stem = fileName.slice(0, -CLIENT_FILE_SUFFIX.length);
      const nameProblem = checkName(stem);
      if (nameProblem !== undefined) {
        refused.push({ file, reason: `file name is not a valid client name: name ${nameProblem}` });
        continue;
      }
      const read = await readPrivateFile(file, { maxBytes: MAX_CLIENT_FILE_BYTES, ownerUid });
      if (!read.ok) {
        if (!read.missing) refused.push({ file, reason: `file ${read.reason}` });
        continue;
      }
      const parsed = parseClientFile(read.text, stem);
      if (typeof parsed === 'string') refused.push({ file, reason: parsed });
      else candidates.push(parsed);
    }
    // A token shared by several files cannot say who is calling: refuse all of them.
    const holders = new Map<string, number>();
    for (const c of candidates) holders.set(c.token, (holders.get(c.token) ?? 0) + 1);
    for (const client of candidates) {
      const count = holders.get(client.token) ?? 0;
      if (count > 1) {
        refused.push({
          file: this.clientFilePath(client.name),
          reason: `token is shared with ${count - 1} other client file(s); every client needs its own token`,
        });
      } else {
        this.index(client);
      }
    }
    this.refusedFiles = refused;
    for (const r of refused) this.logger.warn({ file: r.file, reason: r.reason }, `client file refused: ${r.reason}`);
  }

  private index(client: Client): void {
    this.byName.set(client.name, client);
    this.byToken.set(client.token, client);
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

// Typed, problem-collecting access to a parsed TOML table. Every key read is marked
// as known; finish() then reports whatever is left as an unknown key, so no table
// can silently accept a typo.

import { TomlDate } from 'smol-toml';
import type { ProblemList } from './problem-list.js';

export type RawTable = Record<string, unknown>;

export function isRawTable(value: unknown): value is RawTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Describes a TOML value for "expected X, got Y" messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isInteger(value) ? `integer ${value}` : `float ${value}`;
  if (typeof value === 'bigint') return `integer ${value}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  if (value instanceof TomlDate || value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (isRawTable(value)) return 'a table';
  return String(value);
}

export interface IntegerRange {
  min: number;
  max: number;
}

export class TableReader {
  private readonly known = new Set<string>();

  /**
   * @param path dotted path of this table ('' for the top level)
   * @param where how unknown-key messages name this table, e.g. `in [server]`
   */
  constructor(
    private readonly raw: RawTable,
    readonly path: string,
    private readonly where: string,
    readonly problems: ProblemList,
  ) {}

  /** Reader for a whole document; a non-table document is reported and read as empty. */
  static root(raw: unknown, problems: ProblemList): TableReader {
    if (!isRawTable(raw)) {
      problems.add('', `configuration must be a table of keys, got ${describeValue(raw)}`);
      return new TableReader({}, '', 'at top level', problems);
    }
    return new TableReader(raw, '', 'at top level', problems);
  }

  keyPath(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.take(key) !== undefined;
  }

  string(key: string): string | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.wrongType(key, 'a string', value);
    return value;
  }

  /** A string that must not be empty or only whitespace. */
  nonEmptyString(key: string): string | undefined {
    const value = this.string(key);
    if (value !== undefined && value.trim() === '') {
      this.problems.invalid(this.keyPath(key), 'must not be empty');
      return undefined;
    }
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') return this.wrongType(key, 'a boolean (true or false)', value);
    return value;
  }

  integer(key: string, range: IntegerRange): number | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return this.wrongType(key, 'an integer', value);
    if (value < range.min || value > range.max) {
      this.problems.invalid(this.keyPath(key), `must be between ${range.min} and ${range.max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  /**
   * An array of strings. Bad elements (wrong type, or rejected by `check`, which
   * returns the reason) are reported under their own index and left out.
   */
  stringArray(key: string, check?: (item: string) => string | undefined): string[] | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return this.wrongType(key, 'an array of strings', value);
    const out: string[] = [];
    value.forEach((item: unknown, i) => {
      const itemKey = `${this.keyPath(key)}[${i}]`;
      if (typeof item !== 'string') {
        this.problems.invalid(itemKey, `expected a string, got ${describeValue(item)}`);
        return;
      }
      const problem = check?.(item);
      if (problem === undefined) out.push(item);
      else this.problems.invalid(itemKey, problem);
    });
    return out;
  }

  /** A sub-table such as `[server]`. */
  table(key: string): TableReader | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (!isRawTable(value)) return this.wrongType(key, `a table ([${this.keyPath(key)}])`, value);
    const path = this.keyPath(key);
    return new TableReader(value, path, `in [${path}]`, this.problems);
  }

  /** An array of tables such as `[[peering.peers]]`. */
  tableArray(key: string): TableReader[] | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    const path = this.keyPath(key);
    if (!Array.isArray(value)) return this.wrongType(key, `an array of tables ([[${path}]])`, value);
    const out: TableReader[] = [];
    value.forEach((item: unknown, i) => {
      const itemPath = `${path}[${i}]`;
      if (isRawTable(item)) out.push(new TableReader(item, itemPath, `in ${itemPath}`, this.problems));
      else this.problems.invalid(itemPath, `expected a table, got ${describeValue(item)}`);
    });
    return out;
  }

  /** Reports every key of this table that no accessor asked for. */
  finish(): void {
    const allowed = [...this.known].sort().join(', ');
    for (const key of Object.keys(this.raw)) {
      if (this.known.has(key)) continue;
      const hint = allowed === '' ? '' : ` (known keys: ${allowed})`;
      this.problems.add(this.keyPath(key), `unknown key ${JSON.stringify(key)} ${this.where}${hint}`);
    }
  }

  private take(key: string): unknown {
    this.known.add(key);
    return Object.hasOwn(this.raw, key) ? this.raw[key] : undefined;
  }

  private wrongType(key: string, expected: string, value: unknown): undefined {
    this.problems.invalid(this.keyPath(key), `expected ${expected}, got ${describeValue(value)}`);
    return undefined;
  }
}

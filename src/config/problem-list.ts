// Accumulates configuration problems so that every mistake is reported at once.

import { ConfigError, type ConfigProblem } from './errors.js';

export class ProblemList {
  private readonly items: ConfigProblem[] = [];

  /** Records a problem whose message is already complete. */
  add(key: string, message: string): void {
    this.items.push({ key, message });
  }

  /** Records `key: detail`, the usual shape of a bad-value message. */
  invalid(key: string, detail: string): void {
    this.add(key, `${key}: ${detail}`);
  }

  /** Whether `key` already has a problem (so rules built on it stay quiet). */
  hasKey(key: string): boolean {
    return this.items.some((p) => p.key === key);
  }

  get problems(): readonly ConfigProblem[] {
    return this.items;
  }

  throwIfAny(file?: string): void {
    if (this.items.length === 0) return;
    throw new ConfigError([...this.items], file === undefined ? {} : { file });
  }
}

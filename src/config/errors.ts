// Errors of configuration loading. A config mistake stops the process at start, so
// one ConfigError carries every problem found: the operator fixes them all in one go.

/** One thing wrong with a configuration, located by its dotted key path. */
export interface ConfigProblem {
  /** Dotted key path, e.g. `server.listen` or `peering.peers[0].port`; '' for the whole file. */
  key: string;
  /** Full human-readable line, naming the key. */
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Key path of the first problem ('' when the file itself is the problem). */
  readonly key: string;
  readonly problems: readonly ConfigProblem[];
  /** The config file, when the configuration came from one. */
  readonly file: string | undefined;

  constructor(problems: readonly ConfigProblem[], options: { file?: string; cause?: unknown } = {}) {
    super(formatProblems(problems, options.file), { cause: options.cause });
    if (problems.length === 0) throw new TypeError('ConfigError needs at least one problem');
    this.problems = [...problems];
    this.key = problems[0]?.key ?? '';
    this.file = options.file;
  }

  /** A problem with the file as a whole (missing, unreadable, not TOML). */
  static forFile(file: string, message: string, cause?: unknown): ConfigError {
    return new ConfigError([{ key: '', message }], { file, cause });
  }

  /** Same problems, now attributed to a file (for messages that say where to look). */
  inFile(file: string): ConfigError {
    return new ConfigError(this.problems, { file, cause: this.cause });
  }
}

function formatProblems(problems: readonly ConfigProblem[], file: string | undefined): string {
  const where = file === undefined ? '' : `${file}: `;
  if (problems.length === 1) return `${where}${problems[0]?.message ?? ''}`;
  const header = `${where}${problems.length} configuration problems:`;
  return [header, ...problems.map((p) => `  - ${p.message}`)].join('\n');
}

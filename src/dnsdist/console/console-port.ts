// The seam between the bridge and a dnsdist console: run one Lua statement, get its
// printed output. The real implementation is ConsoleClient (TCP, dnsdist's protocol);
// unit tests use FakeDnsdist, which interprets the commands the bridge sends.
export interface ConsolePort {
  /** Runs `command` on the console; resolves with its output, rejects when the connection fails. */
  run(command: string): Promise<string>;
  close(): void;
}

/** dnsdist answered, but with an error (its output starts with "Error: "). */
export class ConsoleCommandError extends Error {
  override readonly name = 'ConsoleCommandError';
}

/** The console could not be reached, or the connection broke. */
export class ConsoleConnectionError extends Error {
  override readonly name = 'ConsoleConnectionError';
}

/** Throws ConsoleCommandError when dnsdist reported an error for the command. */
export function checkConsoleOutput(output: string, what: string): string {
  if (output.startsWith('Error: ')) throw new ConsoleCommandError(`${what}: ${output.trim()}`);
  return output;
}

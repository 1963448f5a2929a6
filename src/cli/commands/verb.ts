// The shape of one CLI verb (one file each): its yargs declaration and a handler that
// gets the injected context and returns; errors propagate to app.ts, which alone
// decides what the user sees and the exit code.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CliContext } from '../context.js';

export interface Verb<A> {
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv<A>;
  run: (args: ArgumentsCamelCase<A>, ctx: CliContext) => Promise<void>;
}

/** Identity helper so TypeScript infers the argument types from the builder. */
export function defineVerb<A>(verb: Verb<A>): Verb<A> {
  return verb;
}

/** Registers a verb on a (group) parser. */
export function mountVerb<A>(yargs: Argv, verb: Verb<A>, ctx: CliContext): Argv {
  return yargs.command(verb.command, verb.describe, verb.builder, (args) => verb.run(args, ctx));
}

/** `--json` on every command that prints data. */
export function withJson<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' });
}

/** `-q`: only the identifiers (CIDRs, names), one per line. */
export function withQuiet<T>(yargs: Argv<T>) {
  return yargs.option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the CIDRs / names, one per line' });
}

/** `--from-file F`: CIDRs one per line; `-` (standard input) must not be taken for a positional. */
export function withFromFile<T>(yargs: Argv<T>) {
  return yargs.option('from-file', {
    type: 'string',
    requiresArg: true,
    describe: 'Read CIDRs from FILE, one per line, # comments allowed (- = stdin)',
  });
}

// `check` is a group of one verb: it sits at the top level of the command tree.
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import { mountVerb } from '../verb.js';
import { checkVerb } from './check.js';

export function mountCheck(yargs: Argv, ctx: CliContext): Argv {
  return mountVerb(yargs, checkVerb, ctx);
}

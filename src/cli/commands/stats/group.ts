// The `stats` command group (admin and monitoring on the server side).
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import { mountVerb } from '../verb.js';
import { globalStatsVerb } from './global.js';
import { tagStatsVerb } from './tags.js';

export function mountStatsGroup(yargs: Argv, ctx: CliContext): Argv {
  return yargs.command('stats', 'Show data-plane statistics', (group) => {
    mountVerb(group, globalStatsVerb, ctx);
    mountVerb(group, tagStatsVerb('drop'), ctx);
    mountVerb(group, tagStatsVerb('ignore'), ctx);
    return group.demandCommand(1, 'stats: give a command (global, drop, ignore)');
  });
}

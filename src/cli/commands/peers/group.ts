// The `peers` command group (admin and monitoring on the server side).
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import { mountVerb } from '../verb.js';
import { listPeersVerb } from './list.js';

export function mountPeersGroup(yargs: Argv, ctx: CliContext): Argv {
  return yargs.command('peers', 'Show replication peers', (group) => {
    mountVerb(group, listPeersVerb, ctx);
    return group.demandCommand(1, 'peers: give a command (list)');
  });
}

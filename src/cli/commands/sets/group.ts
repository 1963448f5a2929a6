// The `sets` command group: node-local static CIDR lists.
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import { mountVerb } from '../verb.js';
import { createSetVerb } from './create.js';
import { deleteSetVerb } from './delete.js';
import { inspectSetVerb } from './inspect.js';
import { listSetsVerb } from './list.js';
import { reloadSetsVerb } from './reload.js';
import { updateSetVerb } from './update.js';

export function mountSetsGroup(yargs: Argv, ctx: CliContext): Argv {
  return yargs.command('sets', 'Manage static sets (node-local CIDR lists)', (group) => {
    mountVerb(group, listSetsVerb, ctx);
    mountVerb(group, inspectSetVerb, ctx);
    mountVerb(group, createSetVerb, ctx);
    mountVerb(group, updateSetVerb, ctx);
    mountVerb(group, deleteSetVerb, ctx);
    mountVerb(group, reloadSetsVerb, ctx);
    return group.demandCommand(1, 'sets: give a command (list, inspect, create, update, delete, reload)');
  });
}

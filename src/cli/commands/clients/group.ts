// The `clients` command group (admin only on the server side).
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import { mountVerb } from '../verb.js';
import { addClientVerb } from './add.js';
import { deleteClientVerb } from './delete.js';
import { inspectClientVerb } from './inspect.js';
import { listClientsVerb } from './list.js';

export function mountClientsGroup(yargs: Argv, ctx: CliContext): Argv {
  return yargs.command('clients', 'Manage API clients and their tokens', (group) => {
    mountVerb(group, addClientVerb, ctx);
    mountVerb(group, inspectClientVerb, ctx);
    mountVerb(group, listClientsVerb, ctx);
    mountVerb(group, deleteClientVerb, ctx);
    return group.demandCommand(1, 'clients: give a command (add, inspect, list, delete)');
  });
}

// `couicctl clients add -n NAME -g GROUP`: creates an API client and prints its token.
import { defineVerb, withJson } from '../verb.js';
import { printClient } from './view.js';

export const addClientVerb = defineVerb({
  command: 'add',
  describe: 'Create an API client and print its token',
  builder: (yargs) =>
    withJson(
      yargs
        .option('name', { alias: 'n', type: 'string', demandOption: true, requiresArg: true, describe: 'Client name (letters, digits, _ and -)' })
        .option('group', {
          alias: 'g',
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: 'RBAC group: admin, clientrw, clientro, peering or monitoring',
        }),
    ),
  run: async (args, ctx) => {
    const { client } = await (await ctx.api()).clients.addClient({ name: args.name, group: args.group });
    printClient(ctx, client, args.json);
  },
});

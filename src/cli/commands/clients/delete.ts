// `couicctl clients delete NAME`: revokes a client; prints the removed client.
import { defineVerb, withJson } from '../verb.js';
import { printClient } from './view.js';

export const deleteClientVerb = defineVerb({
  command: 'delete <name>',
  describe: 'Delete an API client (its token stops working)',
  builder: (yargs) => withJson(yargs.positional('name', { type: 'string', demandOption: true, describe: 'Client name' })),
  run: async (args, ctx) => {
    const { client } = await (await ctx.api()).clients.deleteClient({ name: args.name });
    printClient(ctx, client, args.json);
  },
});

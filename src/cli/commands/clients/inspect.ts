// `couicctl clients inspect NAME`: one client with its group and token.
import { defineVerb, withJson } from '../verb.js';
import { printClient } from './view.js';

export const inspectClientVerb = defineVerb({
  command: 'inspect <name>',
  describe: 'Show one API client',
  builder: (yargs) => withJson(yargs.positional('name', { type: 'string', demandOption: true, describe: 'Client name' })),
  run: async (args, ctx) => {
    const { client } = await (await ctx.api()).clients.getClient({ name: args.name });
    printClient(ctx, client, args.json);
  },
});

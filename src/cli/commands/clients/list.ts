// `couicctl clients list [-q]`: every API client.
import { writeJson, writeLines } from '../../output/json.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';
import { clientJson, renderClients } from './view.js';

export const listClientsVerb = defineVerb({
  command: 'list',
  describe: 'List API clients',
  builder: (yargs) => withQuiet(withJson(yargs)),
  run: async (args, ctx) => {
    const { clients } = await (await ctx.api()).clients.listClients({});
    if (args.json) writeJson(ctx.stdout, clients.map(clientJson));
    else if (args.quiet) await writeLines(ctx.stdout, clients.map((client) => client.name));
    else ctx.stdout.write(renderClients(clients));
  },
});

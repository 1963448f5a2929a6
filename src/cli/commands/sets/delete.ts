// `couicctl sets delete POLICY NAME`: removes the set file and its entries.
import { toProtoPolicy } from '../../policy.js';
import { defineVerb } from '../verb.js';
import { withSetKey } from './view.js';

export const deleteSetVerb = defineVerb({
  command: 'delete <policy> <name>',
  describe: 'Delete a static set and its entries',
  builder: (yargs) => withSetKey(yargs),
  run: async (args, ctx) => {
    await (await ctx.api()).sets.deleteSet({ policy: toProtoPolicy(args.policy), name: args.name });
    ctx.stdout.write(`Deleted set ${args.policy}/${args.name}.\n`);
  },
});

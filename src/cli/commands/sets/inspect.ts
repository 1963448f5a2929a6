// `couicctl sets inspect POLICY NAME [-q] [--json]`: one set and its CIDRs.
import { writeJson, writeLines } from '../../output/json.js';
import { writeTable } from '../../output/table.js';
import { toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';
import { renderSets, setJson, withSetKey } from './view.js';

export const inspectSetVerb = defineVerb({
  command: 'inspect <policy> <name>',
  describe: 'Show one static set and its CIDRs',
  builder: (yargs) => withQuiet(withJson(withSetKey(yargs))),
  run: async (args, ctx) => {
    const { set } = await (await ctx.api()).sets.getSet({ policy: toProtoPolicy(args.policy), name: args.name });
    if (set === undefined) throw new Error('the server answered without a set');
    if (args.json) writeJson(ctx.stdout, setJson(set, true));
    else if (args.quiet) await writeLines(ctx.stdout, set.cidrs);
    else {
      ctx.stdout.write(renderSets([set]));
      await writeTable(ctx.stdout, ['CIDR'], set.cidrs.map((cidr) => [cidr]));
    }
  },
});

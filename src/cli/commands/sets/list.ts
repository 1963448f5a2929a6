// `couicctl sets list [POLICY] [-q] [--json]`: static sets with their entry counts.
import { POLICIES } from '../../../domain/policy.js';
import { Policy } from '../../../generated/couic/v1/entry.js';
import { writeJson, writeLines } from '../../output/json.js';
import { toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';
import { renderSets, setJson } from './view.js';

export const listSetsVerb = defineVerb({
  command: 'list [policy]',
  describe: 'List static sets (of one policy, or both)',
  builder: (yargs) => withQuiet(withJson(yargs.positional('policy', { choices: POLICIES, describe: 'drop or ignore (default: both)' }))),
  run: async (args, ctx) => {
    const policy = args.policy === undefined ? Policy.POLICY_UNSPECIFIED : toProtoPolicy(args.policy);
    const { sets } = await (await ctx.api()).sets.listSets({ policy });
    if (args.json) writeJson(ctx.stdout, sets.map((set) => setJson(set, false)));
    else if (args.quiet) await writeLines(ctx.stdout, sets.map((set) => set.name));
    else ctx.stdout.write(renderSets(sets));
  },
});

// `couicctl sets reload [--json]`: the daemon re-reads every set file and applies only
// the differences; we print what changed per set.
import { writeJson } from '../../output/json.js';
import { defineVerb, withJson } from '../verb.js';
import { renderSetChanges, setChangeJson } from './view.js';

export const reloadSetsVerb = defineVerb({
  command: 'reload',
  describe: 'Re-read the set files and apply the differences',
  builder: (yargs) => withJson(yargs),
  run: async (args, ctx) => {
    const { changes } = await (await ctx.api()).sets.reloadSets({});
    if (args.json) writeJson(ctx.stdout, changes.map(setChangeJson));
    else ctx.stdout.write(renderSetChanges(changes));
  },
});

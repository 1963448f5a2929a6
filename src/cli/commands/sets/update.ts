// `couicctl sets update POLICY NAME [CIDR...] [--from-file F]`: replaces the whole
// content of a set. An empty replacement must be explicit (an empty file).
import { UsageError } from '../../errors.js';
import { collectCidrs } from '../../input/cidr-lines.js';
import { toProtoPolicy } from '../../policy.js';
import { defineVerb, withFromFile, withJson } from '../verb.js';
import { printSet } from './create.js';
import { withSetKey } from './view.js';

export const updateSetVerb = defineVerb({
  command: 'update <policy> <name> [cidr..]',
  describe: 'Replace the content of a static set with CIDRs and/or --from-file',
  builder: (yargs) =>
    withJson(withFromFile(withSetKey(yargs).positional('cidr', { type: 'string', array: true, describe: 'New CIDRs of the set' }))),
  run: async (args, ctx) => {
    if ((args.cidr ?? []).length === 0 && args.fromFile === undefined) {
      throw new UsageError('give the new content: CIDRs and/or --from-file FILE (an empty file empties the set)');
    }
    const cidrs = await collectCidrs(ctx, args.cidr, args.fromFile);
    const { set } = await (await ctx.api()).sets.updateSet({ policy: toProtoPolicy(args.policy), name: args.name, cidrs });
    printSet(ctx, set, args.json);
  },
});

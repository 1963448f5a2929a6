// `couicctl sets create POLICY NAME [CIDR...] [--from-file F]`: writes a new set file
// on the daemon's node and loads it.
import type { SetInfo } from '../../../generated/couic/v1/sets.js';
import type { CliContext } from '../../context.js';
import { collectCidrs } from '../../input/cidr-lines.js';
import { writeJson } from '../../output/json.js';
import { toProtoPolicy } from '../../policy.js';
import { defineVerb, withFromFile, withJson } from '../verb.js';
import { renderSets, setJson, withSetKey } from './view.js';

export const createSetVerb = defineVerb({
  command: 'create <policy> <name> [cidr..]',
  describe: 'Create a static set from CIDRs and/or --from-file',
  builder: (yargs) =>
    withJson(withFromFile(withSetKey(yargs).positional('cidr', { type: 'string', array: true, describe: 'CIDRs of the set' }))),
  run: async (args, ctx) => {
    const cidrs = await collectCidrs(ctx, args.cidr, args.fromFile);
    const { set } = await (await ctx.api()).sets.createSet({ policy: toProtoPolicy(args.policy), name: args.name, cidrs });
    printSet(ctx, set, args.json);
  },
});

export function printSet(ctx: CliContext, set: SetInfo | undefined, json: boolean): void {
  if (set === undefined) throw new Error('the server answered without a set');
  if (json) writeJson(ctx.stdout, setJson(set, false));
  else ctx.stdout.write(renderSets([set]));
}

// `couicctl drop|ignore delete CIDR... [--from-file F]`: one CIDR goes through
// DeleteRule and prints the removed entry; several go as one all-or-nothing batch.
import { UsageError } from '../../errors.js';
import { batches, collectCidrs } from '../../input/cidr-lines.js';
import { writeJson } from '../../output/json.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withFromFile, withJson } from '../verb.js';
import { printEntry } from './view.js';

export function deleteVerb(policy: PolicyName) {
  return defineVerb({
    command: 'delete [cidr..]',
    describe: `Delete ${policy} rules: one or more CIDRs and/or --from-file`,
    builder: (yargs) =>
      withJson(withFromFile(yargs.positional('cidr', { type: 'string', array: true, describe: 'CIDRs of the rules to delete' }))),
    run: async (args, ctx) => {
      const cidrs = await collectCidrs(ctx, args.cidr, args.fromFile);
      if (cidrs.length === 0 && args.fromFile === undefined) throw new UsageError('give at least one CIDR or --from-file FILE');
      const protoPolicy = toProtoPolicy(policy);
      if (cidrs.length === 1 && args.fromFile === undefined) {
        const { entry } = await (await ctx.api()).rules.deleteRule({ policy: protoPolicy, cidr: cidrs[0] ?? '' });
        printEntry(ctx, entry, args.json);
        return;
      }
      let deleted = 0;
      for (const batch of batches(cidrs)) {
        deleted += (await (await ctx.api()).rules.deleteRules({ keys: batch.map((cidr) => ({ policy: protoPolicy, cidr })) })).deleted;
      }
      if (args.json) writeJson(ctx.stdout, { deleted });
      else ctx.stdout.write(`Deleted ${deleted} ${policy} rules.\n`);
    },
  });
}

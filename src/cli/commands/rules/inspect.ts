// `couicctl drop|ignore inspect CIDR [--json]`: one rule with its origin.
import { writeJson } from '../../output/json.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson } from '../verb.js';
import { entryJson, renderRuleDetails } from './view.js';

export function inspectVerb(policy: PolicyName) {
  return defineVerb({
    command: 'inspect <cidr>',
    describe: `Show one ${policy} rule`,
    builder: (yargs) => withJson(yargs.positional('cidr', { type: 'string', demandOption: true, describe: 'CIDR of the rule' })),
    run: async (args, ctx) => {
      const { entry } = await (await ctx.api()).rules.getRule({ policy: toProtoPolicy(policy), cidr: args.cidr });
      if (entry === undefined) throw new Error('the server answered without an entry');
      if (args.json) writeJson(ctx.stdout, entryJson(entry));
      else ctx.stdout.write(renderRuleDetails(entry, ctx.clock.nowMs()));
    },
  });
}

// `couicctl stats drop|ignore [--json]`: packet and byte counters per tag.
import { writeJson } from '../../output/json.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson } from '../verb.js';
import { renderTagStats, tagStatsJson } from './view.js';

export function tagStatsVerb(policy: PolicyName) {
  return defineVerb({
    command: policy,
    describe: `Packets and bytes ${policy === 'drop' ? 'dropped' : 'let through by ignore rules'}, per tag`,
    builder: (yargs) => withJson(yargs),
    run: async (args, ctx) => {
      const { tags } = await (await ctx.api()).stats.getTagStats({ policy: toProtoPolicy(policy) });
      if (args.json) writeJson(ctx.stdout, tags.map(tagStatsJson));
      else ctx.stdout.write(renderTagStats(tags));
    },
  });
}

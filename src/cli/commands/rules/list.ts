// `couicctl drop|ignore list [-q] [-t TAGS] [--include-sets] [--json]`: the server
// filters by tag patterns (comma-separated, `*` wildcards) and streams the result.
import { compareCidrs, tryParseCidr } from '../../../domain/cidr.js';
import type { Entry } from '../../../generated/couic/v1/entry.js';
import { writeJson, writeLines } from '../../output/json.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';
import { entryJson, renderRules } from './view.js';

/** `-t web-*,untagged` -> ['web-*', 'untagged']. */
export function splitTags(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

export function listVerb(policy: PolicyName) {
  return defineVerb({
    command: 'list',
    describe: `List ${policy} rules`,
    builder: (yargs) =>
      withQuiet(
        withJson(
          yargs
            .option('tag', {
              alias: 't',
              type: 'string',
              requiresArg: true,
              describe: 'Only these tags: comma-separated, * matches anything, "untagged" = no tag',
            })
            .option('include-sets', { type: 'boolean', default: false, describe: 'Also list entries of static sets' }),
        ),
      ),
    run: async (args, ctx) => {
      const api = await ctx.api();
      const entries: Entry[] = [];
      const request = { policy: toProtoPolicy(policy), tags: splitTags(args.tag), includeSets: args.includeSets };
      for await (const chunk of api.rules.listRules(request)) for (const entry of chunk.entries) entries.push(entry);
      sortForDisplay(entries);
      if (args.json) writeJson(ctx.stdout, entries.map(entryJson));
      else if (args.quiet) writeLines(ctx.stdout, entries.map((entry) => entry.cidr));
      else ctx.stdout.write(renderRules(entries, ctx.clock.nowMs()));
    },
  });
}

/** Policy, then address order (the daemon streams in map order). */
function sortForDisplay(entries: Entry[]): void {
  const keys = new Map(entries.map((e) => [e, tryParseCidr(e.cidr)]));
  entries.sort((a, b) => {
    if (a.policy !== b.policy) return a.policy - b.policy;
    const ka = keys.get(a);
    const kb = keys.get(b);
    if (ka === undefined || kb === undefined || typeof ka === 'string' || typeof kb === 'string') return a.cidr < b.cidr ? -1 : 1;
    return compareCidrs(ka, kb);
  });
}

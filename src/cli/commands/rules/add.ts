// `couicctl drop|ignore add CIDR... [-t TAG] [-e DURATION] [--from-file F]`: one CIDR
// goes through AddRule and prints the entry; several (or a file) go as one
// all-or-nothing AddRules batch and print the counts.
import { UsageError } from '../../errors.js';
import { batches, collectCidrs } from '../../input/cidr-lines.js';
import { expirationFromDuration } from '../../output/duration.js';
import { writeJson } from '../../output/json.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withFromFile, withJson } from '../verb.js';
import { printEntry } from './view.js';

export function addVerb(policy: PolicyName) {
  return defineVerb({
    command: 'add [cidr..]',
    describe: `Add ${policy} rules: one or more CIDRs and/or --from-file`,
    builder: (yargs) =>
      withJson(
        withFromFile(
          yargs
            .positional('cidr', { type: 'string', array: true, describe: 'CIDRs, e.g. 192.0.2.0/24 2001:db8::/32' })
            .option('tag', { alias: 't', type: 'string', default: '', requiresArg: true, describe: 'Tag (letters, digits, _ and -)' })
            .option('expiration', {
              alias: 'e',
              type: 'string',
              requiresArg: true,
              describe: 'Lifetime: 30s, 1m, 2h, 1d, 1h30m; a bare number means minutes (default: never)',
            }),
        ),
      ),
    run: async (args, ctx) => {
      const expiration = expirationFromDuration(args.expiration, ctx.clock.nowMs());
      const cidrs = await collectCidrs(ctx, args.cidr, args.fromFile);
      if (cidrs.length === 0 && args.fromFile === undefined) throw new UsageError('give at least one CIDR or --from-file FILE');
      const spec = { policy: toProtoPolicy(policy), tag: args.tag, expiration };
      if (cidrs.length === 1 && args.fromFile === undefined) {
        const { entry } = await (await ctx.api()).rules.addRule({ rule: { ...spec, cidr: cidrs[0] ?? '' } });
        printEntry(ctx, entry, args.json);
        return;
      }
      const counts = { added: 0, replaced: 0 };
      // One all-or-nothing batch up to the daemon's limit; beyond, one batch after another.
      for (const batch of batches(cidrs)) {
        const done = await (await ctx.api()).rules.addRules({ rules: batch.map((cidr) => ({ ...spec, cidr })) });
        counts.added += done.added;
        counts.replaced += done.replaced;
      }
      if (args.json) writeJson(ctx.stdout, { added: counts.added, replaced: counts.replaced });
      else ctx.stdout.write(`Added ${counts.added + counts.replaced} ${policy} rules (${counts.added} new, ${counts.replaced} replaced).\n`);
    },
  });
}

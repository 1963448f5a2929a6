// `couicctl drop|ignore list [-q] [-t TAGS] [--include-sets] [--json]`: the server
// filters by tag patterns (comma-separated, `*` wildcards) and streams the result.
// A list may hold every rule of a node (589,824): each streamed chunk is reduced to
// what will be printed as it arrives, then sorted and written in pieces.
import { tryParseCidr } from '../../../domain/cidr.js';
import type { Entry } from '../../../generated/couic/v1/entry.js';
import { writeJsonArray, writeLines } from '../../output/json.js';
import { writeTable } from '../../output/table.js';
import { type PolicyName, toProtoPolicy } from '../../policy.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';
import { entryJson, RULE_HEADERS, ruleRow } from './view.js';

/** `-t web-*,untagged` -> ['web-*', 'untagged']. */
export function splitTags(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

/**
 * A string that sorts like the display order: policy, then family, address bytes and
 * prefix length (what compareCidrs does), without keeping a parsed CIDR per rule.
 */
export function displayKey(entry: Pick<Entry, 'policy' | 'cidr'>): string {
  const parsed = tryParseCidr(entry.cidr);
  const policy = String(entry.policy).padStart(3, '0');
  if (typeof parsed === 'string') return `${policy}~${entry.cidr}`;
  let hex = '';
  for (const byte of parsed.bytes) hex += byte.toString(16).padStart(2, '0');
  return `${policy}${parsed.family}${hex}/${String(parsed.prefixLength).padStart(3, '0')}`;
}

interface Keyed<T> {
  key: string;
  value: T;
}

function byKey<T>(items: Keyed<T>[]): T[] {
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return items.map((item) => item.value);
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
      const request = { policy: toProtoPolicy(policy), tags: splitTags(args.tag), includeSets: args.includeSets };
      const nowMs = ctx.clock.nowMs();
      // What each mode prints, kept per entry instead of the decoded entries themselves.
      const shape: (entry: Entry) => unknown = args.json ? entryJson : args.quiet ? (entry) => entry.cidr : (entry) => ruleRow(entry, nowMs);
      const rows: Keyed<unknown>[] = [];
      for await (const chunk of api.rules.listRules(request)) {
        for (const entry of chunk.entries) rows.push({ key: displayKey(entry), value: shape(entry) });
      }
      const sorted = byKey(rows);
      if (args.json) await writeJsonArray(ctx.stdout, sorted);
      else if (args.quiet) await writeLines(ctx.stdout, sorted as string[]);
      else await writeTable(ctx.stdout, RULE_HEADERS, sorted as string[][]);
    },
  });
}

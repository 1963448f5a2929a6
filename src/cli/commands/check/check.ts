// `couicctl check IP [-q] [--json]`: what the firewall does with packets from an
// address, and which rule decides it (longest prefix per policy, ignore wins).
import type { Entry } from '../../../generated/couic/v1/entry.js';
import type { CheckAddressResponse } from '../../../generated/couic/v1/rules.js';
import { formatRemaining } from '../../output/duration.js';
import { writeJson } from '../../output/json.js';
import { renderTable } from '../../output/table.js';
import { policyName, verdictName } from '../../policy.js';
import { entryJson } from '../rules/view.js';
import { defineVerb, withJson, withQuiet } from '../verb.js';

export function checkJson(address: string, answer: CheckAddressResponse) {
  const entry = (e: Entry | undefined) => (e === undefined ? null : entryJson(e));
  return {
    address,
    verdict: verdictName(answer.verdict),
    decisive: entry(answer.decisive),
    drop_match: entry(answer.dropMatch),
    ignore_match: entry(answer.ignoreMatch),
  };
}

export function renderCheck(address: string, answer: CheckAddressResponse, nowMs: number): string {
  const rule = answer.decisive;
  const ruleCells =
    rule === undefined
      ? ['', '(no rule matches)', '', '']
      : [policyName(rule.policy), rule.cidr, rule.tag, formatRemaining(rule.expiration, nowMs)];
  let out = renderTable(
    ['Address', 'Verdict', 'Policy', 'CIDR', 'Tag', 'Expiration'],
    [[address, verdictName(answer.verdict), ...ruleCells]],
  );
  const drop = answer.dropMatch;
  const ignore = answer.ignoreMatch;
  if (drop !== undefined && ignore !== undefined) {
    out += `note: ignore ${ignore.cidr} overrides drop ${drop.cidr} (ignore always wins)\n`;
  }
  return out;
}

export const checkVerb = defineVerb({
  command: 'check <ip>',
  describe: 'Show the verdict for an address and the rule that decides it',
  builder: (yargs) => withQuiet(withJson(yargs.positional('ip', { type: 'string', demandOption: true, describe: 'IPv4 or IPv6 address' }))),
  run: async (args, ctx) => {
    const answer = await (await ctx.api()).rules.checkAddress({ address: args.ip });
    if (args.json) writeJson(ctx.stdout, checkJson(args.ip, answer));
    else if (args.quiet) ctx.stdout.write(`${verdictName(answer.verdict)}\n`);
    else ctx.stdout.write(renderCheck(args.ip, answer, ctx.clock.nowMs()));
  },
});

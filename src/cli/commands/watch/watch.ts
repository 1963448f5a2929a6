// `couicctl watch [drop|ignore] [-t TAGS] [--cursor C] [--json]`: the daemon's
// dynamic rules, then every change as it happens, until Ctrl-C. Ends by printing the
// last cursor on stderr, so `--cursor` resumes exactly where it stopped.
import type { CliContext } from '../../context.js';
import { writeJsonLine } from '../../output/json.js';
import { toProtoPolicy } from '../../policy.js';
import { Policy } from '../../../generated/couic/v1/entry.js';
import { splitTags } from '../rules/list.js';
import { defineVerb } from '../verb.js';
import { eventCursor, watchEventJson, watchEventLine } from './view.js';

/** nice-grpc ends an aborted call with an AbortError. */
function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function resumeHint(ctx: CliContext, cursor: string | undefined): void {
  if (cursor !== undefined) ctx.stderr.write(`couicctl: resume with: couicctl watch --cursor ${cursor}\n`);
}

export const watchVerb = defineVerb({
  command: 'watch [policy]',
  describe: 'Print the dynamic rules, then every change as it happens (Ctrl-C to stop)',
  builder: (yargs) =>
    yargs
      .positional('policy', { choices: ['drop', 'ignore'] as const, describe: 'Only this policy (default: both)' })
      .option('tag', {
        alias: 't',
        type: 'string',
        requiresArg: true,
        describe: 'Only these tags: comma-separated, * matches anything, "untagged" = no tag',
      })
      .option('cursor', { type: 'string', requiresArg: true, describe: 'Resume from a cursor printed by an earlier watch' })
      .option('json', { type: 'boolean', default: false, describe: 'One JSON object per event and line (NDJSON)' }),
  run: async (args, ctx) => {
    const api = await ctx.api();
    const stop = ctx.interruptSignal();
    const request = {
      policy: args.policy === undefined ? Policy.POLICY_UNSPECIFIED : toProtoPolicy(args.policy),
      tags: splitTags(args.tag),
      cursor: args.cursor ?? '',
    };
    let cursor = args.cursor;
    try {
      for await (const response of api.replication.watch(request, { signal: stop })) {
        for (const event of response.events) {
          const json = watchEventJson(event);
          if (json === undefined) continue;
          if (args.json) writeJsonLine(ctx.stdout, json);
          else ctx.stdout.write(`${watchEventLine(json)}\n`);
          cursor = eventCursor(event) ?? cursor;
        }
      }
    } catch (error) {
      resumeHint(ctx, cursor);
      if (stop.aborted && isAbortError(error)) return;
      throw error;
    }
    resumeHint(ctx, cursor);
    throw new Error('the daemon ended the watch stream');
  },
});

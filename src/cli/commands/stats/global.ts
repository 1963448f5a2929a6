// `couicctl stats global [--live] [--json]`: CIDR counts and per-action counters.
// --live redraws every second until Ctrl-C (JSON: one compact line per refresh).
import type { CliContext } from '../../context.js';
import { writeJson, writeJsonLine } from '../../output/json.js';
import { defineVerb, withJson } from '../verb.js';
import { globalStatsJson, renderGlobalStats } from './view.js';

export const LIVE_INTERVAL_MS = 1000;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

async function printOnce(ctx: CliContext, json: boolean): Promise<void> {
  const stats = await (await ctx.api()).stats.getGlobalStats({});
  if (json) writeJson(ctx.stdout, globalStatsJson(stats));
  else ctx.stdout.write(renderGlobalStats(stats));
}

async function printLive(ctx: CliContext, json: boolean): Promise<void> {
  const api = await ctx.api();
  const stop = ctx.interruptSignal();
  let first = true;
  while (!stop.aborted) {
    const stats = await api.stats.getGlobalStats({});
    if (stop.aborted) break;
    if (json) {
      writeJsonLine(ctx.stdout, { time: Math.floor(ctx.clock.nowMs() / 1000), ...globalStatsJson(stats) });
    } else {
      const stamp = new Date(ctx.clock.nowMs()).toISOString().replace(/\.\d+Z$/, 'Z');
      const heading = `couic stats at ${stamp} (every ${LIVE_INTERVAL_MS / 1000}s, Ctrl-C to stop)\n`;
      const separator = ctx.stdoutIsTty ? CLEAR_SCREEN : first ? '' : '\n';
      ctx.stdout.write(separator + heading + renderGlobalStats(stats));
    }
    first = false;
    await ctx.sleep(LIVE_INTERVAL_MS, stop);
  }
}

export const globalStatsVerb = defineVerb({
  command: 'global',
  describe: 'Rule counts and packet counters per XDP action',
  builder: (yargs) => withJson(yargs.option('live', { type: 'boolean', default: false, describe: 'Refresh every second until Ctrl-C' })),
  run: async (args, ctx) => (args.live ? printLive(ctx, args.json) : printOnce(ctx, args.json)),
});

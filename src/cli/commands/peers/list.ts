// `couicctl peers list [--json]`: every replication link (mesh peers, the NATS bus)
// with its state, backlog, last flush and last full reconciliation.
import { writeJson } from '../../output/json.js';
import { defineVerb, withJson } from '../verb.js';
import { peerJson, renderPeers } from './view.js';

export const listPeersVerb = defineVerb({
  command: 'list',
  describe: 'Show each replication link: state, pending deltas, last flush and reconciliation',
  builder: (yargs) => withJson(yargs),
  run: async (args, ctx) => {
    const { links } = await (await ctx.api()).replication.listPeers({});
    if (args.json) writeJson(ctx.stdout, links.map(peerJson));
    else ctx.stdout.write(renderPeers(links, ctx.clock.nowMs()));
  },
});

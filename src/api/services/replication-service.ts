// ReplicationService: Watch streams the replicated rules to other enforcement points
// (snapshot or resume, then changes, at the pace the client reads: nice-grpc waits
// for the stream to drain before pulling the next batch, and changes meanwhile only
// mark keys in the session's queue); ListPeers reports every replication link.
import { InvalidArgumentError } from '../../domain/errors.js';
import { checkTagPatterns } from '../../domain/tag-pattern.js';
import type { ReplicationServiceImplementation } from '../../generated/couic/v1/replication.js';
import type { LinkStatusSource } from '../../replication/link-status.js';
import type { WatchBroker } from '../../replication/watch/watch-broker.js';
import { WatchFilter } from '../../replication/watch/watch-filter.js';
import { authorize, type CallerContext } from '../caller.js';
import { optionalPolicyFromWire } from '../proto-convert.js';
import { linkStatusToWire, watchItemToWire } from '../replication-convert.js';

export interface ReplicationServiceDeps {
  readonly broker: WatchBroker;
  /** Read on every ListPeers (links may come and go). */
  statusSources(): readonly LinkStatusSource[];
}

export function createReplicationService(deps: ReplicationServiceDeps): ReplicationServiceImplementation<CallerContext> {
  return {
    async *watch(request, { caller, signal }) {
      authorize(caller, 'rules.watch');
      const policy = optionalPolicyFromWire(request.policy);
      const tagPatterns = request.tags.flatMap((t) => t.split(','));
      const patternProblem = checkTagPatterns(tagPatterns);
      if (patternProblem !== undefined) throw InvalidArgumentError.single('tags', patternProblem);
      const filter = new WatchFilter(policy, tagPatterns);
      const session = deps.broker.open(filter, request.cursor === '' ? undefined : request.cursor);
      try {
        for (;;) {
          const items = await session.next(signal);
          if (items === undefined) return;
          yield { events: items.map(watchItemToWire) };
        }
      } finally {
        session.close();
      }
    },

    async listPeers(_request, { caller }) {
      authorize(caller, 'peers.read');
      const links = deps.statusSources().flatMap((source) => source.linkStatuses());
      return { links: links.map(linkStatusToWire) };
    },
  };
}

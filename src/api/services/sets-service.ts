// SetsService: static set files, applied to the store through StaticSets.
import type { Logger } from 'pino';
import type { StaticSets } from '../../daemon/static-sets.js';
import type { SetsServiceImplementation, SetInfo } from '../../generated/couic/v1/sets.js';
import type { LoadedSet } from '../../sets/set-repository.js';
import { authorize, type CallerContext } from '../caller.js';
import { optionalPolicyFromWire, policyFromWire, policyToWire } from '../proto-convert.js';

function toInfo(set: LoadedSet, withCidrs: boolean): SetInfo {
  return {
    policy: policyToWire(set.policy),
    name: set.name,
    entryCount: set.cidrs.length,
    cidrs: withCidrs ? set.cidrs.map((c) => c.text) : [],
  };
}

export function createSetsService(sets: StaticSets, logger: Logger): SetsServiceImplementation<CallerContext> {
  const { repository } = sets;
  const reloadAfter = async (caller: string, action: string): Promise<void> => {
    const { changes } = await sets.reload();
    logger.info(
      { client: caller, action, changes: changes.map((c) => `${c.policy}/${c.name} +${c.added.length} -${c.removed.length}`) },
      'sets applied',
    );
  };
  return {
    async listSets(request, { caller }) {
      authorize(caller, 'sets.read');
      const policy = optionalPolicyFromWire(request.policy);
      return { sets: (await repository.list(policy)).map((s) => toInfo(s, false)) };
    },
    async getSet(request, { caller }) {
      authorize(caller, 'sets.read');
      return { set: toInfo(await repository.get(policyFromWire(request.policy), request.name), true) };
    },
    async createSet(request, { caller }) {
      authorize(caller, 'sets.write');
      const set = await repository.create(policyFromWire(request.policy), request.name, request.cidrs);
      await reloadAfter(caller.name, 'create');
      return { set: toInfo(set, false) };
    },
    async updateSet(request, { caller }) {
      authorize(caller, 'sets.write');
      const set = await repository.update(policyFromWire(request.policy), request.name, request.cidrs);
      await reloadAfter(caller.name, 'update');
      return { set: toInfo(set, false) };
    },
    async deleteSet(request, { caller }) {
      authorize(caller, 'sets.write');
      await repository.delete(policyFromWire(request.policy), request.name);
      await reloadAfter(caller.name, 'delete');
      return {};
    },
    async reloadSets(_request, { caller }) {
      authorize(caller, 'sets.write');
      const { changes } = await sets.reload();
      logger.info({ client: caller.name, sets: changes.length }, 'sets reloaded');
      return {
        changes: changes.map((c) => ({
          policy: policyToWire(c.policy),
          name: c.name,
          added: c.added.length,
          removed: c.removed.length,
        })),
      };
    },
  };
}

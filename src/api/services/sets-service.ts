// SetsService: static set files, applied to the store through StaticSets.
import type { Logger } from 'pino';
import type { SetReloadResult, StaticSets } from '../../sets/static-sets.js';
import { CapacityExceededError, FailedPreconditionError } from '../../domain/errors.js';
import type { Policy } from '../../domain/policy.js';
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
  const logApplied = (caller: string, action: string, { changes }: SetReloadResult): void => {
    logger.info(
      { client: caller, action, changes: changes.map((c) => `${c.policy}/${c.name} +${c.added.length} -${c.removed.length}`) },
      'sets applied',
    );
  };
  const reloadAfter = async (caller: string, action: string): Promise<void> => {
    logApplied(caller, action, await sets.reload());
  };
  /**
   * Writes a set file, applies it, and undoes the write when the store refuses it
   * (capacity): a refused request leaves nothing behind, on disk or in the maps.
   */
  const writeThenApply = async (
    caller: string,
    action: 'create' | 'update',
    policy: Policy,
    name: string,
    write: () => Promise<unknown>,
    undo: () => Promise<unknown>,
  ): Promise<void> => {
    await write();
    const result = await sets.reload();
    const refusal = result.refused.find((r) => r.policy === policy && r.name === name);
    if (refusal === undefined) {
      logApplied(caller, action, result);
      return;
    }
    await undo();
    logger.warn({ client: caller, action, policy, set: name, reason: refusal.reason }, `set ${action} refused; the set file was restored`);
    throw new CapacityExceededError(`set "${name}" (policy ${policy}) does not fit: ${refusal.reason}; the set file was ${action === 'create' ? 'removed' : 'restored'}`);
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
      const policy = policyFromWire(request.policy);
      let set: LoadedSet | undefined;
      await writeThenApply(
        caller.name,
        'create',
        policy,
        request.name,
        async () => (set = await repository.create(policy, request.name, request.cidrs)),
        () => repository.delete(policy, request.name),
      );
      return { set: toInfo(set as LoadedSet, false) };
    },
    async updateSet(request, { caller }) {
      authorize(caller, 'sets.write');
      const policy = policyFromWire(request.policy);
      // A file refused for its content (bad lines) cannot be restored as a set: it is simply replaced.
      const previous = await repository.get(policy, request.name).catch((error: unknown) => {
        if (error instanceof FailedPreconditionError) return undefined;
        throw error;
      });
      let set: LoadedSet | undefined;
      await writeThenApply(
        caller.name,
        'update',
        policy,
        request.name,
        async () => (set = await repository.update(policy, request.name, request.cidrs)),
        async () => {
          if (previous !== undefined) await repository.update(policy, request.name, previous.cidrs.map((c) => c.text));
        },
      );
      return { set: toInfo(set as LoadedSet, false) };
    },
    async deleteSet(request, { caller }) {
      authorize(caller, 'sets.write');
      await repository.delete(policyFromWire(request.policy), request.name);
      await reloadAfter(caller.name, 'delete');
      return {};
    },
    async reloadSets(_request, { caller }) {
      authorize(caller, 'sets.write');
      const { changes, refused } = await sets.reload();
      logger.info({ client: caller.name, sets: changes.length }, 'sets reloaded');
      if (refused.length > 0) {
        const list = refused.map((r) => `${r.policy}/${r.name}`).join(', ');
        throw new CapacityExceededError(
          `set(s) ${list} do not fit in the maps and were not applied (see the daemon log); the other sets were applied: ${refused[0]?.reason ?? ''}`,
        );
      }
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

// The `drop` and `ignore` command groups: the same verbs, one policy each.
import type { Argv } from 'yargs';
import type { CliContext } from '../../context.js';
import type { PolicyName } from '../../policy.js';
import { mountVerb } from '../verb.js';
import { addVerb } from './add.js';
import { deleteVerb } from './delete.js';
import { inspectVerb } from './inspect.js';
import { listVerb } from './list.js';

export function mountRulesGroup(yargs: Argv, policy: PolicyName, ctx: CliContext): Argv {
  const what = policy === 'drop' ? 'traffic to drop' : 'traffic never to drop (wins over drop)';
  return yargs.command(policy, `Manage ${policy} rules: ${what}`, (group) => {
    mountVerb(group, addVerb(policy), ctx);
    mountVerb(group, deleteVerb(policy), ctx);
    mountVerb(group, listVerb(policy), ctx);
    mountVerb(group, inspectVerb(policy), ctx);
    return group.demandCommand(1, `${policy}: give a command (add, delete, list, inspect)`);
  });
}

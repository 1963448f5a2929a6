// The RBAC matrix of the reference, cell by cell, and authorize() on top of it.
import test from 'ava';
import { authorize } from '../../../src/api/caller.js';
import { PermissionDeniedError } from '../../../src/domain/errors.js';
import { GROUPS, groupAllows, groupsAllowed, isGroup, type Group, type Permission } from '../../../src/rbac/permissions.js';

// Transcribed from the reference table (rows: action, columns: group).
//                                   admin clientrw clientro peering monitoring
const REFERENCE: ReadonlyArray<[Permission, string, readonly [boolean, boolean, boolean, boolean, boolean]]> = [
  ['clients.manage', 'clients add/get/list/delete', [true, false, false, false, false]],
  ['rules.write', 'drop/ignore add, delete', [true, true, false, false, false]],
  ['rules.read', 'drop/ignore get, list', [true, true, true, false, false]],
  ['peering', 'peer (replicate entries in)', [true, false, false, true, false]],
  ['stats.read', 'stats get/list, metrics', [true, false, false, false, true]],
  ['sets.write', 'sets add, delete, reload', [true, true, false, false, false]],
  ['sets.read', 'sets get, list', [true, true, true, false, false]],
];
const COLUMNS: readonly Group[] = ['admin', 'clientrw', 'clientro', 'peering', 'monitoring'];

test('the five groups of the reference', (t) => {
  t.deepEqual([...GROUPS].sort(), [...COLUMNS].sort());
  for (const group of COLUMNS) t.true(isGroup(group));
  for (const value of ['', 'Admin', 'ADMIN', 'root', 'clientRW', ' admin']) t.false(isGroup(value), value);
});

for (const [permission, action, row] of REFERENCE) {
  COLUMNS.forEach((group, i) => {
    const allowed = row[i] ?? false;
    test(`${action} (${permission}): ${group} ${allowed ? 'allowed' : 'refused'}`, (t) => {
      t.is(groupAllows(group, permission), allowed);
      if (allowed) {
        t.notThrows(() => authorize({ name: 'c1', group }, permission));
      } else {
        const error = t.throws(() => authorize({ name: 'c1', group }, permission), { instanceOf: PermissionDeniedError });
        t.is(error?.kind, 'permission-denied');
        t.regex(error?.message ?? '', /c1/);
        t.regex(error?.message ?? '', new RegExp(group));
      }
    });
  });
  test(`${permission}: groupsAllowed lists exactly the allowed columns`, (t) => {
    t.deepEqual([...groupsAllowed(permission)].sort(), COLUMNS.filter((_, i) => row[i]).sort());
  });
}

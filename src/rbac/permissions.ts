// The RBAC matrix of the reference: which group may do what.
export const GROUPS = ['admin', 'clientrw', 'clientro', 'peering', 'monitoring'] as const;
export type Group = (typeof GROUPS)[number];

export function isGroup(value: string): value is Group {
  return (GROUPS as readonly string[]).includes(value);
}

export type Permission =
  | 'clients.manage'
  | 'rules.write'
  | 'rules.read'
  | 'rules.watch'
  | 'peering'
  | 'stats.read'
  | 'peers.read'
  | 'sets.write'
  | 'sets.read';

const MATRIX: Readonly<Record<Permission, readonly Group[]>> = {
  'clients.manage': ['admin'],
  'rules.write': ['admin', 'clientrw'],
  'rules.read': ['admin', 'clientrw', 'clientro'],
  // Watching shows exactly what listing shows, kept up to date.
  'rules.watch': ['admin', 'clientrw', 'clientro'],
  peering: ['admin', 'peering'],
  'stats.read': ['admin', 'monitoring'],
  // Replication link status is operational data, like the statistics.
  'peers.read': ['admin', 'monitoring'],
  'sets.write': ['admin', 'clientrw'],
  'sets.read': ['admin', 'clientrw', 'clientro'],
};

export function groupAllows(group: Group, permission: Permission): boolean {
  return MATRIX[permission].includes(group);
}

export function groupsAllowed(permission: Permission): readonly Group[] {
  return MATRIX[permission];
}

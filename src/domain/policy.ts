// The two filtering policies. `ignore` wins over `drop` for the same address.
export const POLICIES = ['drop', 'ignore'] as const;
export type Policy = (typeof POLICIES)[number];

export function isPolicy(value: string): value is Policy {
  return (POLICIES as readonly string[]).includes(value);
}

/** Map capacity per policy and per address family (as in the reference kernel maps). */
export const CAPACITY_PER_FAMILY: Readonly<Record<Policy, number>> = {
  drop: 262_144,
  ignore: 65_536,
};

/** The roles of DESIGN.md's "Who uses it". */
export const ROLES = [
  'rep',
  'manager',
  'msl',
  'pv',
  'compliance',
  'brand',
  'medical',
  'digital',
  'admin',
] as const;
export type Role = (typeof ROLES)[number];

/** The signed-in user a request acts for, as every route and store function sees it. */
export interface Principal {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  /** Markets the user works in (msl scope, content defaults). */
  readonly marketCodes: readonly string[];
  /** Territories the user works directly (reps); a manager's come through the reps they lead. */
  readonly territoryIds: readonly string[];
  readonly sessionId: string;
}

/**
 * What a route declares about who may call it. Every route must declare one (checked when routes are
 * registered): `public` (no sign-in), `user` (any signed-in user) or the list of roles allowed.
 */
export type Access = 'public' | 'user' | readonly Role[];

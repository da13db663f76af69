// What each role may see and do on the dashboard; the server enforces the same split.
import type { Role } from './types';

/** The dashboard's areas a set of (effective) roles opens. */
export interface Abilities {
  /** Plan and execute routes: the runbook planner and its output. */
  route: boolean;
  /** Kill switch, live feed, model matrix, alerts and the audit trail. */
  operate: boolean;
  /** The policy editor and its history. */
  govern: boolean;
  /** API keys. */
  administer: boolean;
}

/**
 * Plain membership: the server sends the effective roles (inclusions already expanded), so a
 * role the list lacks is a role the key lacks.
 */
export function abilitiesOf(roles: readonly Role[]): Abilities {
  return {
    route: roles.includes('client'),
    operate: roles.includes('operator'),
    govern: roles.includes('governor'),
    administer: roles.includes('admin'),
  };
}

/** Every role, broadest last, in the order the dashboard lists them. */
export const ROLES: readonly Role[] = ['client', 'operator', 'governor', 'admin'];

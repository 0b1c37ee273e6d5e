/**
 * Roles and what they may do (§10). A request is allowed when the member's role grants the action
 * and the token's scopes cover it.
 */
export const ROLES = ['admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const TOKEN_SCOPES = ['read', 'write', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** What a request wants to do inside an organization. */
export type Permission =
  | 'read'
  | 'project:write'
  | 'component:write'
  | 'environment:write'
  | 'pipeline:write'
  | 'dataplane:write'
  | 'member:write'
  | 'organization:write'
  | 'audit:read'
  | 'deploy'
  | 'deploy:production'
  | 'config:write'
  | 'config:write:production'
  /** Deciding an approval request; the environment's policy says who may (§6.5). */
  | 'approve';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: [
    'read',
    'project:write',
    'component:write',
    'environment:write',
    'pipeline:write',
    'dataplane:write',
    'member:write',
    'organization:write',
    'audit:read',
    'deploy',
    'deploy:production',
    'config:write',
    'config:write:production',
    'approve',
  ],
  // Developers deploy and promote outside production (§10); production is for admins (and approvals, F4).
  // Configuration of a production environment is an admin's, like deploying there.
  developer: ['read', 'project:write', 'component:write', 'deploy', 'config:write', 'approve'],
  viewer: ['read', 'approve'],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

/** The token scope a permission needs: reads need `read`, changes need `write`. */
export function scopeFor(permission: Permission): TokenScope {
  return permission === 'read' || permission === 'audit:read' ? 'read' : 'write';
}

import type { TokenScope } from '../domain/access.js';
import type { Store } from '../store/store.js';

/** Who is calling: resolved from the bearer token before any route runs. */
export interface Actor {
  userId: string;
  userName: string;
  platformAdmin: boolean;
  defaultOrg: string | null;
  tokenId: string;
  scopes: readonly TokenScope[];
}

/** One request as the control plane sees it: the actor plus what the audit log records. */
export interface RequestContext {
  actor: Actor;
  requestId: string;
  sourceIp: string;
}

/** What every use case depends on; built once in the composition root. */
export interface ControlDeps {
  store: Store;
  now?: () => Date;
}

/** Rondo acting on its own (auto-deploy after a build): audited as actor `rondo`. */
export function systemContext(requestId: string): RequestContext {
  return {
    actor: {
      userId: 'system',
      userName: 'rondo',
      platformAdmin: true,
      defaultOrg: null,
      tokenId: 'system',
      scopes: ['read', 'write', 'admin'],
    },
    requestId,
    sourceIp: 'internal',
  };
}

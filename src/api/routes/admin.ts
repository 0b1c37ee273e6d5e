import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ControlDeps } from '../../control/context.js';
import { mutateAsPlatformAdmin } from '../../control/org-access.js';
import { beginRotation, finishRotation, rewrapIn } from '../../secrets/rotation.js';
import type { SecretDeps } from '../../secrets/secret-deps.js';
import { type Api, contextOf } from '../api.js';
import { problemResponses } from '../schemas.js';

/** Platform administration: master key rotation (§5). */
export function adminRoutes(app: Api, deps: ControlDeps & SecretDeps): void {
  app.post(
    '/admin/master-key/rotate',
    {
      schema: {
        tags: ['admin'],
        description:
          'Generates a new master key and re-wraps every data key with it in one transaction; values stay readable throughout. Platform admins only.',
        response: {
          200: z.object({ keyId: z.string(), rewrapped: z.number().int() }),
          ...problemResponses,
        },
      },
    },
    async (req) => {
      const ctx = contextOf(req);
      // The re-wrap and its audit event commit together; only then does the new key replace the old file.
      const rewrapped = await mutateAsPlatformAdmin(
        deps,
        ctx,
        { action: 'master-key.rotate', resourceType: 'master-key', resource: 'master-key' },
        async (tx) => {
          beginRotation(deps.keyring, deps.masterKeyFile, () => randomBytes(32));
          return rewrapIn(tx, deps.keyring);
        },
      );
      finishRotation(deps.masterKeyFile);
      return { keyId: deps.keyring.currentKeyId, rewrapped };
    },
  );
}

import { timingSafeEqual } from 'node:crypto';
import { RondoError } from '../../domain/errors.js';
import { AlertmanagerPayload, receiveAlertmanager } from '../../observability/alertmanager-receiver.js';
import type { Store } from '../../store/store.js';
import type { Api } from '../api.js';

/** Where Alertmanager reaches Rondo, and the token it must send. */
export interface AlertmanagerHookDeps {
  store: Store;
  /** Read at each request: `rondo up` writes the file Alertmanager reads too. */
  token: () => string;
}

const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** `POST /hooks/alertmanager`: Alertmanager's webhook receiver (latency, traffic and resource alerts). */
export async function alertmanagerHook(app: Api, deps: AlertmanagerHookDeps | undefined): Promise<void> {
  if (!deps) return;
  app.post(
    '/hooks/alertmanager',
    { config: { public: true }, schema: { hide: true, body: AlertmanagerPayload } },
    async (req, reply) => {
      const auth = req.headers.authorization ?? '';
      if (!same(auth, `Bearer ${deps.token()}`))
        throw new RondoError(
          'RONDO_ERR_AUTH_TOKEN_INVALID',
          'Alertmanager must send the receiver token Rondo wrote',
        );
      const changed = await receiveAlertmanager(deps.store, req.body);
      return reply.code(200).send({ changed });
    },
  );
}

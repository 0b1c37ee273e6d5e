import https from 'node:https';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

/**
 * How many connections one cluster's calls may hold open at once. The reconciler works on 16
 * keys at a time; more would queue on the agent rather than open yet more TLS sessions.
 */
const MAX_SOCKETS = 32;
/** An idle connection is closed after this (the API server may close it first; either is fine). */
const IDLE_MS = 60_000;

/**
 * A kubeconfig whose API calls share one keep-alive HTTPS agent. `@kubernetes/client-node` 1.4
 * makes a new `https.Agent` for every call (`KubeConfig.applySecurityAuthentication` →
 * `createAgent`, kubernetes-client/javascript#2893), so each call paid a TCP connect and a TLS
 * handshake: most of an idle reconcile's time on a cluster. The generated clients call
 * `applySecurityAuthentication` for each request, then send with `RequestContext.getAgent()`; this
 * lets the client build its agent as before (CA, client certificate, `rejectUnauthorized`, the
 * headers stay per request) and swaps in the shared one made from the same TLS options.
 *
 * Not shared: a cluster reached through a proxy (`proxy-url`: the client's proxy agents), and the
 * streams (watch, log follow, exec), which hold their connection for their whole life anyway.
 */
export class SharedAgentKubeConfig extends KubeConfig {
  #agent: https.Agent | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const shared = this.sharedAgent(context.getAgent());
    if (shared) context.setAgent(shared);
  }

  /**
   * The keep-alive agent for calls that would have used `made` (an agent the client built for one
   * call), created from `made`'s TLS options on first use; undefined where it must not be shared.
   */
  sharedAgent(made: unknown): https.Agent | undefined {
    if (this.getCurrentCluster()?.proxyUrl || !(made instanceof https.Agent)) return undefined;
    this.#agent ??= new https.Agent({
      ...made.options,
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      timeout: IDLE_MS,
    });
    return this.#agent;
  }

  /** Closes the shared agent's connections (the driver's `stop`); a later call opens new ones. */
  closeAgent(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }
}

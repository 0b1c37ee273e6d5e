import { invalid } from '../../domain/errors.js';

/** What Rondo keeps in the clear about a registered cluster: where it is, and which context. */
export interface KubeconfigTarget {
  /** The API server's URL (https) of the context's cluster. */
  server: string;
  /** The context the driver uses: the one named, or the kubeconfig's current-context. */
  context: string;
}

// The Kubernetes client takes over a second to load; only a Kubernetes data plane pays for it.
let client: Promise<typeof import('@kubernetes/client-node')> | undefined;
const loadClient = () => {
  client ??= import('@kubernetes/client-node');
  return client;
};

const KUBECONFIG = 'config.kubeconfig';
const CONTEXT = 'config.context';

/**
 * Reads a kubeconfig as the Kubernetes client does (`KubeConfig.loadFromString`) and checks that a
 * driver could use it: the context (`context`, or the current-context) exists, its cluster has an
 * https server and its user is defined. Refusals name `config.kubeconfig` or `config.context` and
 * the fix; they never quote the text, which holds credentials.
 */
export async function parseKubeconfig(text: string, context?: string): Promise<KubeconfigTarget> {
  const { KubeConfig } = await loadClient();
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    // The client's own messages name a missing field (`clusters[0].cluster.server is missing`);
    // a YAML parser's message may quote the text, so any other one is not repeated.
    const said = err instanceof Error ? err.message : '';
    const why = /^[\w.[\]-]+ is missing$/.test(said) ? `${said}; ` : '';
    throw invalid([
      {
        field: KUBECONFIG,
        message: `is not a kubeconfig Rondo can read (${why}give the YAML \`kubectl config view --raw --minify\` prints, with clusters, users and contexts)`,
      },
    ]);
  }
  const clusters = kc.getClusters();
  if (!clusters.some((c) => isHttps(c.server)))
    throw invalid([
      {
        field: KUBECONFIG,
        message:
          'has no cluster with an https server URL; give a kubeconfig whose clusters[].cluster.server is https://…',
      },
    ]);
  const contexts = kc.getContexts();
  const known = contexts.map((c) => c.name).join(', ') || 'none';
  const name = context ?? (kc.getCurrentContext() || undefined);
  if (name === undefined)
    throw invalid([
      {
        field: CONTEXT,
        message: `is required: the kubeconfig has no current-context; name one of its contexts (${known})`,
      },
    ]);
  const chosen = contexts.find((c) => c.name === name);
  if (!chosen)
    throw invalid([
      context === undefined
        ? {
            field: KUBECONFIG,
            message: `names current-context '${name}', which it does not define; add that context or set config.context to one of: ${known}`,
          }
        : {
            field: CONTEXT,
            message: `the kubeconfig has no context '${name}'; use one of: ${known}`,
          },
    ]);
  const field = context === undefined ? KUBECONFIG : CONTEXT;
  const cluster = clusters.find((c) => c.name === chosen.cluster);
  if (!cluster)
    throw invalid([
      {
        field,
        message: `context '${name}' uses cluster '${chosen.cluster}', which the kubeconfig does not define; add it under clusters`,
      },
    ]);
  if (!isHttps(cluster.server))
    throw invalid([
      {
        field,
        message: `context '${name}' uses cluster '${cluster.name}', whose server is not an https URL; Rondo talks to an API server over TLS only`,
      },
    ]);
  if (!chosen.user || !kc.getUsers().some((u) => u.name === chosen.user))
    throw invalid([
      {
        field,
        message: chosen.user
          ? `context '${name}' uses user '${chosen.user}', which the kubeconfig does not define; add it under users with its credentials`
          : `context '${name}' names no user; set contexts[].context.user to a user with credentials`,
      },
    ]);
  return { server: cluster.server, context: name };
}

function isHttps(server: string): boolean {
  try {
    const url = new URL(server);
    return url.protocol === 'https:' && url.hostname !== '';
  } catch {
    return false;
  }
}

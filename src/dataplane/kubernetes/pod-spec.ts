import type {
  KubernetesObject,
  V1ConfigMap,
  V1Container,
  V1Probe,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { ResourceLimits } from '../../domain/resource-limits.js';
import type { Probe } from '../driver.js';
import { LABELS_ANNOTATION, labelValues } from './names.js';

/**
 * What a pod needs besides its image, kept out of the pod's own spec: the environment's values
 * and the secret files in a Secret, the other files in a ConfigMap. The pod names keys only, so
 * no secret value is ever part of a Deployment or Job (which many more people can read).
 */
export interface PodInputs {
  namespace: string;
  /** The workload's name: the Secret is `<name>-env`, the ConfigMap `<name>-files`. */
  name: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  files: { path: string; content: Buffer | string; secret?: boolean }[];
  /**
   * The port of the environment's organization gateway, where the cluster runs Rondo's gateway:
   * `RONDO_INTERNAL_GATEWAY` is then `http://<the pod's node>:<port>` (the gateway is on every
   * node's network; the node's address comes from the downward API).
   */
  organizationGatewayPort?: number;
}

/**
 * A revision's or a run's inputs; `internalGateway`: Rondo's gateway runs in the cluster, so the
 * workload is told where its organization gateway is.
 */
export function podInputsOf(
  namespace: string,
  name: string,
  spec: Pick<PodInputs, 'labels' | 'env' | 'files' | 'organizationGatewayPort'>,
  internalGateway: boolean,
): PodInputs {
  const { labels, env, files, organizationGatewayPort } = spec;
  return {
    namespace,
    name,
    labels,
    env,
    files,
    ...(internalGateway && organizationGatewayPort !== undefined ? { organizationGatewayPort } : {}),
  };
}

/** The node's address in a pod's env, which `RONDO_INTERNAL_GATEWAY` names. */
export const NODE_ADDRESS_ENV = 'RONDO_NODE_IP';

/** Owner of the Secret and ConfigMap: deleting it deletes them (the garbage collector). */
export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

const b64 = (c: Buffer | string) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c).toString('base64');
const envKey = (i: number) => `env-${i}`;
const fileKey = (i: number) => `file-${i}`;

export const secretName = (name: string) => `${name}-env`;
export const configMapName = (name: string) => `${name}-files`;

/** The objects' metadata: valid label values, the exact ones in an annotation. */
export function metadata(namespace: string, name: string, labels: Record<string, string>, owner?: Owner) {
  return {
    name,
    namespace,
    labels: labelValues(labels),
    annotations: { [LABELS_ANNOTATION]: JSON.stringify(labels) },
    ...(owner ? { ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: false }] } : {}),
  };
}

/** The Secret (env and secret files) and, when there are other files, the ConfigMap. */
export function inputObjects(p: PodInputs, owner?: Owner): KubernetesObject[] {
  const secret: Record<string, string> = {};
  Object.values(p.env).forEach((v, i) => {
    secret[envKey(i)] = b64(v);
  });
  const plain: Record<string, string> = {};
  p.files.forEach((f, i) => {
    (f.secret ? secret : plain)[fileKey(i)] = b64(f.content);
  });
  // Typed as the client's models: it writes only the fields its models know, by their names.
  const s: KubernetesObject & V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(p.namespace, secretName(p.name), p.labels, owner),
    type: 'Opaque',
    data: secret,
  };
  const out: KubernetesObject[] = [s];
  if (Object.keys(plain).length > 0) {
    const c: KubernetesObject & V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: metadata(p.namespace, configMapName(p.name), p.labels, owner),
      binaryData: plain,
    };
    out.push(c);
  }
  return out;
}

/** The container's env (by reference into the Secret), its file mounts and the pod's volumes. */
export function podInputs(p: PodInputs): {
  env: V1Container['env'];
  volumeMounts: V1VolumeMount[];
  volumes: V1Volume[];
} {
  const env: NonNullable<V1Container['env']> = Object.keys(p.env).map((name, i) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName(p.name), key: envKey(i) } },
  }));
  if (p.organizationGatewayPort !== undefined)
    env.push(
      { name: NODE_ADDRESS_ENV, valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      // `$(NAME)` is expanded by the kubelet from the variables before it.
      { name: 'RONDO_INTERNAL_GATEWAY', value: `http://$(${NODE_ADDRESS_ENV}):${p.organizationGatewayPort}` },
    );
  // One file each, read-only, at its own path (subPath): the image's other files in that folder stay.
  const volumeMounts = p.files.map((f, i) => ({
    name: f.secret ? 'secret-files' : 'files',
    mountPath: f.path,
    subPath: fileKey(i),
    readOnly: true,
  }));
  const volumes: V1Volume[] = [];
  // 0444: the workload may run as any user.
  if (p.files.some((f) => f.secret))
    volumes.push({ name: 'secret-files', secret: { secretName: secretName(p.name), defaultMode: 0o444 } });
  if (p.files.some((f) => !f.secret))
    volumes.push({ name: 'files', configMap: { name: configMapName(p.name), defaultMode: 0o444 } });
  return { env, volumeMounts, volumes };
}

/**
 * Limits as on Docker (a hard memory limit, OOM-killed above it; a CPU quota). Requests: all of
 * the memory (what it may use is what the node must have) and a tenth of the CPU, so a small
 * node still schedules replicas that are mostly idle.
 */
export function resources(r: ResourceLimits | undefined): V1Container['resources'] | undefined {
  if (!r?.memoryMiB && !r?.cpuMillicores) return undefined;
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (r.memoryMiB) {
    limits.memory = `${r.memoryMiB}Mi`;
    requests.memory = `${r.memoryMiB}Mi`;
  }
  if (r.cpuMillicores) {
    limits.cpu = `${r.cpuMillicores}m`;
    requests.cpu = `${Math.max(1, Math.floor(r.cpuMillicores / 10))}m`;
  }
  return { limits, requests };
}

/** The kubelet's form of a readiness check. */
export function probeAction(p: Probe): Pick<V1Probe, 'tcpSocket' | 'httpGet'> {
  return p.kind === 'tcp' ? { tcpSocket: { port: p.port } } : { httpGet: { path: p.path, port: p.port } };
}

/**
 * Readiness every second (as the reconciler's own probe); liveness the same check every 10 s,
 * restarting after 3 failures in a row, from 30 s after the start so a slow start is no failure.
 */
export function probes(p: Probe | undefined): Pick<V1Container, 'readinessProbe' | 'livenessProbe'> {
  if (!p) return {};
  const action = probeAction(p);
  return {
    readinessProbe: { ...action, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 },
    livenessProbe: {
      ...action,
      initialDelaySeconds: 30,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
  };
}

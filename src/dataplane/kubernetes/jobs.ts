import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject, V1Job, V1Pod } from '@kubernetes/client-node';
import type { JobSpec, JobsPort, Replica } from '../driver.js';
import { type Cluster, isNotFound } from './cluster.js';
import { ClusterImages } from './images.js';
import { dnsLabel, LABELS_ANNOTATION, labelValues, parsePodId } from './names.js';
import { podReplica } from './pod-replicas.js';
import {
  configMapName,
  inputObjects,
  metadata,
  podInputs,
  podInputsOf,
  resources,
  secretName,
} from './pod-spec.js';
import { CONTAINER, followLog, waitStopped } from './pods.js';
import { listReplicas, readPod } from './revisions.js';

/** The label the Job controller puts on its pods. */
const JOB_NAME = 'job-name';

const terminated = (pod: V1Pod) => pod.status?.containerStatuses?.[0]?.state?.terminated;

/**
 * Task runs as `batch/v1` Jobs: one pod, never restarted (`backoffLimit: 0`, `restartPolicy:
 * Never`); a run is its pod. Schedules stay Rondo's (it starts each due run), so no CronJob,
 * whose API version differs by cluster (`batch/v1beta1` up to 1.20).
 */
export class Jobs implements JobsPort {
  constructor(
    readonly cluster: Cluster,
    readonly images: ClusterImages = new ClusterImages(undefined, undefined),
    /** Rondo's gateway runs in the cluster: workloads are told where their organization gateway is. */
    readonly internalGateway = false,
  ) {}

  async start(spec: JobSpec): Promise<Replica> {
    const namespace = spec.environment.name;
    const name = dnsLabel(spec.name, 56);
    const inputs = podInputsOf(namespace, name, spec, this.internalGateway);
    for (const o of inputObjects(inputs)) await this.cluster.apply(o);
    const mounts = podInputs(inputs);
    const job = await this.cluster.apply<KubernetesObject & V1Job>({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: metadata(namespace, name, spec.labels),
      spec: {
        backoffLimit: 0,
        template: {
          metadata: {
            labels: labelValues(spec.labels),
            annotations: { [LABELS_ANNOTATION]: JSON.stringify(spec.labels) },
          },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            ...(this.images.pullSecrets ? { imagePullSecrets: this.images.pullSecrets } : {}),
            volumes: mounts.volumes,
            containers: [
              {
                name: CONTAINER,
                image: this.images.reference(spec.image),
                imagePullPolicy: 'IfNotPresent',
                // `args` follow the image's ENTRYPOINT. An image with only a CMD gets them in
                // place of its CMD (Kubernetes cannot read the image's CMD to repeat it, as the
                // Docker driver does): such images run the arguments as their program.
                ...(spec.args.length > 0 ? { args: spec.args } : {}),
                env: mounts.env ?? [],
                volumeMounts: mounts.volumeMounts,
                ...(spec.resources ? { resources: resources(spec.resources) } : {}),
              },
            ],
          },
        },
      },
    });
    const uid = job.metadata?.uid;
    if (uid) {
      const owner = { apiVersion: 'batch/v1', kind: 'Job', name, uid };
      for (const o of inputObjects(inputs, owner)) await this.cluster.apply(o);
    }
    return this.#untilRunning(namespace, name);
  }

  /** The Job's pod once its container runs or has run (two minutes at most; then as it is). */
  async #untilRunning(namespace: string, name: string): Promise<Replica> {
    const end = Date.now() + 120_000;
    for (;;) {
      const { items } = await this.cluster.call(() =>
        this.cluster.core.listNamespacedPod({ namespace, labelSelector: `${JOB_NAME}=${name}` }),
      );
      const pod = items[0];
      const c = pod?.status?.containerStatuses?.[0];
      if (pod && (c?.state?.running || c?.state?.terminated || Date.now() > end)) return podReplica(pod);
      if (!pod && Date.now() > end) throw new Error(`Job ${namespace}/${name} made no pod in two minutes`);
      await sleep(200);
    }
  }

  list(labels: Record<string, string>): Promise<Replica[]> {
    return listReplicas(this.cluster, labels);
  }

  async wait(id: string, signal?: AbortSignal): Promise<number> {
    for (;;) {
      signal?.throwIfAborted();
      const pod = await readPod(this.cluster, id);
      if (!pod) throw new Error(`run ${id} is gone: no exit code to read`);
      const t = terminated(pod);
      if (t) return t.exitCode;
      if (pod.status?.phase === 'Failed' && !pod.status.containerStatuses?.length)
        throw new Error(
          `run ${id} failed before it started: ${pod.status.reason ?? pod.status.message ?? ''}`,
        );
      await sleep(500, undefined, signal ? { signal } : {});
    }
  }

  async logs(id: string, tail: number): Promise<string> {
    const { namespace, name } = parsePodId(id);
    return this.cluster.call(() =>
      this.cluster.core.readNamespacedPodLog({ name, namespace, container: CONTAINER, tailLines: tail }),
    );
  }

  follow(id: string, signal?: AbortSignal): Promise<NodeJS.ReadableStream> {
    return followLog(this.cluster, id, signal ? { signal } : {});
  }

  /**
   * The Job goes first (its controller would replace a pod deleted alone), its pod with it
   * (Background), then the pod again with `graceSeconds`: the shorter grace wins.
   */
  async remove(id: string, graceSeconds: number): Promise<void> {
    const pod = await readPod(this.cluster, id);
    if (!pod) return;
    const { namespace, name } = parsePodId(id);
    const gone = (err: unknown) => {
      if (!isNotFound(err)) throw err;
    };
    const job = pod.metadata?.labels?.[JOB_NAME];
    if (job) {
      await this.cluster
        .call(() =>
          this.cluster.batch.deleteNamespacedJob({ name: job, namespace, propagationPolicy: 'Background' }),
        )
        .catch(gone);
      await this.cluster
        .call(() => this.cluster.core.deleteNamespacedSecret({ name: secretName(job), namespace }))
        .catch(gone);
      await this.cluster
        .call(() => this.cluster.core.deleteNamespacedConfigMap({ name: configMapName(job), namespace }))
        .catch(gone);
    }
    await this.cluster
      .call(() =>
        this.cluster.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: graceSeconds }),
      )
      .catch(gone);
    await waitStopped(this.cluster, namespace, name, graceSeconds);
  }
}

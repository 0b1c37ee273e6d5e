import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';
import { DRIVERS } from '../helpers/stores.js';
import { loadBusyboxImage, startTestCluster, type TestCluster } from './kube-cluster-helpers.js';

/**
 * Data planes seen through the API with the platform running (G6 items 3 and 5), on both stores:
 * `GET …/dataplanes/{name}` nests each one's status (the Docker engine and the real test cluster
 * reachable with version and capacity; a cluster nothing answers for, or that refuses the
 * credentials, unreachable within seconds and saying why); `rondo describe dataplane` and
 * `rondo doctor` print them; a replica crashing on the cluster becomes a deployment event with
 * its exit code and last lines, as on Docker.
 */
const FLAKY = 'localhost/rondo-flaky:test';
const DATAPLANES = '/api/v1/orgs/default/dataplanes';

interface Status {
  reachable: boolean;
  reason?: string;
  version?: string;
  capacity?: { cpus: number; memoryBytes: number; nodes?: number };
  tookMs: number;
}

describe('data planes with the platform (real engine and cluster)', () => {
  let cluster: TestCluster;
  beforeAll(() => {
    cluster = startTestCluster();
    // Serves long enough to pass readiness and be switched to, then gives up with code 3.
    loadBusyboxImage(FLAKY, [
      '/bin/busybox',
      'sh',
      '-c',
      'mkdir -p /tmp/www && echo ok > /tmp/www/index.html && /bin/busybox httpd -p 8080 -h /tmp/www && sleep 8 && echo "ERROR database unreachable, giving up" && exit 3',
    ]);
  }, 900_000);
  afterAll(() => cluster?.stop(), 120_000);

  describe.each(DRIVERS)('on %s', (driver) => {
    let t: PlatformTestRondo;
    const token = () => /token: (\S+)/.exec(cluster.kubeconfig)?.[1] ?? '';
    const register = async (name: string, kubeconfig: string) => {
      const res = await t.call('POST', DATAPLANES, {
        body: { name, type: 'kubernetes', config: { kubeconfig } },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    const statusOf = async (name: string): Promise<Status> => {
      const res = await t.call('GET', `${DATAPLANES}/${name}`);
      expect(res.status).toBe(200);
      return res.body.status;
    };

    beforeAll(async () => {
      t = await startPlatformRondo(driver);
      await register('lab', cluster.kubeconfig);
      await register('away', cluster.kubeconfig.replace(/server: \S+/, 'server: https://127.0.0.1:1'));
      await register('wrong', cluster.kubeconfig.replace(token(), 'rondo-not-a-token'));
    }, 120_000);
    afterAll(() => t?.close(), 120_000);

    it('nests each data plane’s status: the engine and the cluster reachable, with version and capacity', async () => {
      const local = await statusOf('local');
      expect(local).toMatchObject({ reachable: true });
      expect(local.version).toMatch(/^(Docker|Podman) \d+\.\d+/);
      expect(local.capacity?.cpus).toBeGreaterThan(0);
      expect(local.capacity?.memoryBytes).toBeGreaterThan(2 ** 30);

      const lab = await statusOf('lab');
      expect(lab).toMatchObject({ reachable: true, version: 'Kubernetes v1.20.2' });
      expect(lab.capacity?.nodes).toBe(1);
      expect(lab.reason).toBeUndefined();
      // Lists stay fast: no status there.
      const list = await t.call('GET', DATAPLANES);
      expect(list.body.items.every((d: { status?: unknown }) => d.status === undefined)).toBe(true);
    });

    it('answers within seconds for a cluster that does not answer or refuses the credentials, saying why', async () => {
      const [away, wrong] = await Promise.all([statusOf('away'), statusOf('wrong')]);
      expect(away.reachable).toBe(false);
      expect(away.reason).toMatch(/https:\/\/127\.0\.0\.1:1 does not answer/);
      expect(wrong.reachable).toBe(false);
      expect(wrong.reason).toMatch(/refused the kubeconfig's credentials \(401/);
      expect(JSON.stringify([away, wrong])).not.toContain(token());
    });

    it('rondo describe dataplane and rondo doctor print the statuses', async () => {
      ensureBuilt();
      const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
      const described = await cli(['describe', 'dataplane', 'lab'], env);
      expect(described.status).toBe(0);
      expect(described.stdout).toMatch(/Status:\s+reachable \(checked in \d+ ms\)/);
      expect(described.stdout).toMatch(/Version:\s+Kubernetes v1\.20\.2/);
      expect(described.stdout).toMatch(/Capacity:\s+\d+(\.\d+)? CPUs?, \d+\.\d GiB memory \(1 node\)/);
      const away = await cli(['describe', 'dataplane', 'away'], env);
      expect(away.stdout).toMatch(/Status:\s+unreachable/);
      expect(away.stdout).toMatch(/Reason:\s+the API server at https:\/\/127\.0\.0\.1:1 does not answer/);

      const doctor = await cli(['doctor', '--server', t.apiUrl], env);
      expect(doctor.stdout).toMatch(/^ok\s+data plane local\s+docker: reachable, (Docker|Podman) /m);
      expect(doctor.stdout).toMatch(/^ok\s+data plane lab\s+kubernetes: reachable, Kubernetes v1\.20\.2, /m);
      expect(doctor.stdout).toMatch(
        /^FAIL\s+data plane away\s+kubernetes: unreachable \(the API server at https:\/\/127\.0\.0\.1:1 does not answer.*\n\s+fix: make the API server reachable/m,
      );
      expect(doctor.stdout).toMatch(/^FAIL\s+data plane wrong\s+kubernetes: unreachable \(.*credentials/m);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout + doctor.stderr).not.toContain(token());
    });

    it.runIf(driver === 'pglite')(
      'records a crash of a replica on the cluster as a deployment event with its exit code and last lines',
      async () => {
        const component = '/api/v1/orgs/default/projects/shop/components/flaky';
        expect(
          (
            await t.call('POST', '/api/v1/orgs/default/environments', {
              body: { name: 'kprod', dataPlane: 'lab' },
            })
          ).status,
        ).toBe(201);
        await t.call('POST', '/api/v1/orgs/default/pipelines', {
          body: { name: 'kube', environments: ['kprod'] },
        });
        await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop', pipeline: 'kube' } });
        await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
          body: { name: 'flaky', type: 'service', source: { image: FLAKY }, endpoints: [{ port: 8080 }] },
        });
        const d = await t.call('POST', `${component}/deployments`, { body: { environment: 'kprod' } });
        expect(d.status, JSON.stringify(d.body)).toBe(202);
        expect(await waitForDeployment(t, 'default', d.body.id, 90_000)).toMatchObject({ status: 'active' });
        let events: { kind: string; message: string; environment: string }[] = [];
        const deadline = Date.now() + 90_000;
        while (!events.some((e) => e.kind === 'crash') && Date.now() < deadline) {
          await sleep(500);
          events = (await t.call('GET', `${component}/events?environment=kprod`)).body.items;
        }
        const crash = events.find((e) => e.kind === 'crash');
        expect(crash?.environment).toBe('kprod');
        expect(crash?.message).toMatch(
          /^replica 0 exited with code 3; last lines:\n {2}ERROR database unreachable, giving up/,
        );
        // Once per exit, though the kubelet restarts it in place and its status repeats the stop.
        await sleep(2000);
        events = (await t.call('GET', `${component}/events?environment=kprod`)).body.items;
        const kc = new KubeConfig();
        kc.loadFromString(cluster.kubeconfig);
        const pods = await kc
          .makeApiClient(CoreV1Api)
          .listPodForAllNamespaces({ labelSelector: `rondo.deployment=${d.body.id}` });
        const c = pods.items[0]?.status?.containerStatuses?.[0];
        const ended = (c?.restartCount ?? 0) + (c?.state?.terminated ? 1 : 0);
        const crashes = events.filter((e) => e.kind === 'crash' || e.kind === 'crash-loop');
        expect(crashes.length).toBeGreaterThanOrEqual(1);
        expect(crashes.length).toBeLessThanOrEqual(ended);
      },
      240_000,
    );
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DataPlaneDriver,
  EnvironmentInfo,
  EnvironmentRef,
  JobSpec,
  Replica,
  RevisionSpec,
  RoutingState,
} from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { plantedAwsKey } from '../helpers/secrets.js';

/**
 * How the contract gets behaviour out of a driver's test image. A replica has no arguments
 * (`RevisionSpec` has none), so its behaviour is chosen by environment variables alone; a run's
 * by environment variables, with its arguments (`JobSpec.args`) appended to the image's process.
 * A Docker driver satisfies it with a busybox image whose process runs `$RONDO_TEST_SCRIPT`
 * (`busybox-contract-image.ts`); the fake with a program that reads the same variables.
 */
export interface ContractImage {
  /** A reference the driver can pin and start. */
  ref: string;
  /**
   * A replica's env: prints `NAME=value` for each of `printEnv` (one line each, in order), then
   * listens on TCP `port` until it is stopped.
   */
  serve(port: number, printEnv?: string[]): Record<string, string>;
  /** A replica's (or run's) env: exits at once with `code`. */
  exitWith(code: number): Record<string, string>;
  /** A run's env: prints each of its arguments on a line of its own, in order, then exits with `code`. */
  printArgs(code: number): Record<string, string>;
}

/** What a driver under the contract comes with. */
export interface ContractSubject {
  driver: DataPlaneDriver;
  image: ContractImage;
  /**
   * The installation the driver serves (`EnvironmentRef.instance`): a driver may be bound to one
   * (Docker's `deps.instance`), so the contract uses the driver's rather than inventing its own.
   */
  instance: string;
  /** Removes whatever the run left behind, behind the driver's back (after the driver's own removals). */
  cleanup(): Promise<void>;
  /** How long a replica may take to pass readiness, stop, or print (default 30 s). */
  deadlineMs?: number;
  /**
   * `false` where removing one of several replicas may stop a sibling instead of the replacement
   * the data plane begins for it (a Kubernetes ReplicaSet ranks pods that became ready in the same
   * second as equals): the removed replica still goes, and the count still drops by one.
   */
  removalKeepsSiblings?: boolean;
  /** What the driver lets a test see besides its ports (the fake: every published state). */
  inspect?: { published?(): RoutingState[] };
}

const PORT = 8080;

/** A state routing nothing: what a data plane with no deployments serves. */
export const emptyRoutingState = (): RoutingState => ({
  revisions: [],
  hosts: [],
  webApps: [],
  internal: [],
});

/**
 * Registers the suite every `DataPlaneDriver` must pass. Behaviour only: no timings are asserted;
 * what takes time on a real data plane is polled up to the subject's deadline, and a poll that
 * runs out says what it waited for and what it saw last.
 */
export function driverContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`data-plane driver contract: ${name}`, () => {
    let s: ContractSubject;
    let driver: DataPlaneDriver;
    let image: ContractImage;
    let deadlineMs = 30_000;
    /** What the tests started, removed through the driver after them even when a test failed. */
    const replicas = new Set<string>();
    const jobs = new Set<string>();
    const environments = new Map<string, EnvironmentInfo>();
    let serial = 0;

    /** A fresh (project, environment) of this installation. */
    const ref = (what: string): EnvironmentRef => ({
      instance: s.instance,
      org: 'contract',
      project: `${what}${++serial}`,
      environment: 'development',
    });

    const ensure = async (r: EnvironmentRef): Promise<EnvironmentInfo> => {
      const env = await driver.environments.ensure(r);
      environments.set(env.name, env);
      return env;
    };

    /** The labels of one deployment of a component in `env`. */
    const deploymentLabels = (r: EnvironmentRef, deployment: string): Record<string, string> => ({
      [LABEL.instance]: r.instance,
      [LABEL.managed]: 'true',
      [LABEL.org]: r.org,
      [LABEL.project]: r.project,
      [LABEL.environment]: r.environment,
      [LABEL.component]: 'web',
      [LABEL.deployment]: deployment,
    });

    const revision = (
      r: EnvironmentRef,
      env: EnvironmentInfo,
      deployment: string,
      o: Partial<RevisionSpec> = {},
    ): RevisionSpec => ({
      environment: env,
      labels: deploymentLabels(r, deployment),
      name: `rondo-${r.instance}-${r.project}-${deployment}`,
      image: image.ref,
      replicas: 1,
      env: image.serve(PORT),
      files: [],
      ports: [PORT],
      readiness: { kind: 'tcp', port: PORT },
      names: ['web'],
      ...o,
    });

    const start = async (spec: RevisionSpec, indexes: number[]): Promise<Replica[]> => {
      const started = await driver.revisions.start(spec, indexes);
      for (const r of started) replicas.add(r.id);
      return started;
    };

    const job = (
      r: EnvironmentRef,
      env: EnvironmentInfo,
      execution: string,
      o: Partial<JobSpec> = {},
    ): JobSpec => ({
      environment: env,
      name: `rondo-${r.instance}-${r.project}-run-${execution}`,
      labels: { ...deploymentLabels(r, 'none'), [LABEL.execution]: execution },
      image: image.ref,
      env: image.printArgs(0),
      files: [],
      args: [],
      ...o,
    });

    const startJob = async (spec: JobSpec): Promise<Replica> => {
      const run = await driver.jobs.start(spec);
      jobs.add(run.id);
      return run;
    };

    /** Reads until `done` says so, up to the deadline; throws naming `what` and the last reading. */
    async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
      const deadline = Date.now() + deadlineMs;
      for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline)
          throw new Error(`${name}: ${what}: not within ${deadlineMs} ms; last reading: ${show(value)}`);
        await sleep(pause);
      }
    }

    const passes = (id: string) =>
      until(
        `replica ${id} passes readiness`,
        () => driver.revisions.probe(id, { kind: 'tcp', port: PORT }),
        (reading) => {
          if (reading.stopped) throw new Error(`${name}: replica ${id} stopped: ${show(reading)}`);
          return reading.failure === undefined;
        },
      );

    beforeAll(async () => {
      s = await make();
      driver = s.driver;
      image = s.image;
      deadlineMs = s.deadlineMs ?? deadlineMs;
    });

    afterAll(async () => {
      if (!s) return;
      try {
        for (const id of jobs) await driver.jobs.remove(id, 0).catch(() => undefined);
        for (const id of replicas) await driver.revisions.remove(id, 0).catch(() => undefined);
        for (const env of environments.values()) await driver.environments.remove(env).catch(() => undefined);
      } finally {
        await s.cleanup();
      }
    });

    it('answers ping and says whether it restarts failing replicas itself', async () => {
      await expect(driver.ping()).resolves.toBeUndefined();
      expect(typeof driver.capabilities.restartsOnLiveness).toBe('boolean');
    });

    it('says it is reachable, with its version and a capacity, within the deadline', async () => {
      // A status past its deadline would hang here until the test's own timeout.
      const s = await driver.status(4000);
      expect(s.reachable).toBe(true);
      expect(s.version).toMatch(/\S/);
      expect(s.capacity?.cpus).toBeGreaterThan(0);
      expect(s.capacity?.memoryBytes).toBeGreaterThan(0);
    });

    describe('environments', () => {
      it('ensure is idempotent, and gives the environment its labels and source addresses', async () => {
        const r = ref('env');
        const first = await ensure(r);
        const second = await ensure(r);
        expect(second.name).toBe(first.name);
        expect(second.labels).toEqual(first.labels);
        expect(first.labels).toMatchObject({
          [LABEL.instance]: r.instance,
          [LABEL.org]: r.org,
          [LABEL.project]: r.project,
          [LABEL.environment]: r.environment,
        });
        // None where the environment has no address range of its own (Kubernetes' pods take the
        // node's); its traffic port then admits the environment's replicas by their addresses.
        expect(second.sourceCidrs).toEqual(first.sourceCidrs);
        for (const cidr of first.sourceCidrs) expect(cidr).toMatch(/^[0-9a-f.:]+\/\d{1,3}$/);
      });

      it('list shows it with its labels, once, and only to its own installation', async () => {
        const env = await ensure(ref('env'));
        const listed = (await driver.environments.list(s.instance)).filter((e) => e.name === env.name);
        expect(listed).toHaveLength(1);
        expect(listed[0]!.labels).toEqual(env.labels);
        const other = await driver.environments.list(`${s.instance}-other`);
        expect(other.map((e) => e.name)).not.toContain(env.name);
      });

      it('remove makes it gone, and removing it again is no error', async () => {
        const env = await ensure(ref('env'));
        await driver.environments.remove(env);
        expect((await driver.environments.list(s.instance)).map((e) => e.name)).not.toContain(env.name);
        await expect(driver.environments.remove(env)).resolves.toBeUndefined();
        environments.delete(env.name);
      });
    });

    describe('revisions', () => {
      it('pins the image it is given', async () => {
        const pinned = await driver.revisions.pin(image.ref);
        expect(pinned).toEqual(expect.any(String));
        expect(pinned.length).toBeGreaterThan(0);
      });

      it('starts replicas carrying the labels and their index, which pass readiness and are marked serving', async () => {
        const r = ref('rev');
        const env = await ensure(r);
        const spec = revision(r, env, 'd1', { replicas: 2, image: await driver.revisions.pin(image.ref) });
        const started = await start(spec, [0, 1]);
        expect(started).toHaveLength(2);

        const listed = byIndex(await driver.revisions.list(spec.labels));
        expect(listed.map((x) => x.labels[LABEL.replica])).toEqual(['0', '1']);
        expect(listed.map((x) => x.id).sort()).toEqual(started.map((x) => x.id).sort());
        for (const x of listed) {
          expect(x.labels).toMatchObject(spec.labels);
          expect(x.ready).toBe(false);
        }
        // Another deployment's labels see none of them.
        expect(await driver.revisions.list({ ...spec.labels, [LABEL.deployment]: 'd0' })).toEqual([]);
        // One replica by its index.
        const one = await driver.revisions.list({ ...spec.labels, [LABEL.replica]: '1' });
        expect(one.map((x) => x.id)).toEqual([listed[1]!.id]);

        for (const x of listed) await passes(x.id);
        for (const x of listed) {
          const marked = await driver.revisions.markServing(x.id, env.name, spec.names);
          expect(marked.id).toBe(x.id);
          expect(marked.ready).toBe(true);
        }
        const after = await driver.revisions.list(spec.labels);
        expect(after).toHaveLength(2);
        expect(after.every((x) => x.ready)).toBe(true);
      });

      it('gives the process its environment variables (it prints them to its output)', async () => {
        const r = ref('rev');
        const env = await ensure(r);
        const greeting = 'hello from the contract, with spaces & $signs';
        const spec = revision(r, env, 'd2', {
          env: { ...image.serve(PORT, ['GREETING', 'SECOND']), GREETING: greeting, SECOND: 'two' },
        });
        const [replica] = await start(spec, [0]);
        const logs = await until(
          `replica ${replica!.id} prints its environment`,
          () => driver.revisions.logs(replica!.id, 100),
          (text) => text.includes('SECOND=two'),
        );
        expect(logs).toContain(`GREETING=${greeting}\n`);
        expect(logs.indexOf(`GREETING=${greeting}`)).toBeLessThan(logs.indexOf('SECOND=two'));
      });

      // Stopped where the data plane leaves it stopped; a data plane that restarts it (Docker's
      // on-failure policy, Kubernetes' kubelet) reads it as failing with the code meanwhile.
      it('a replica that exits non-zero never reads as ready, and its failure names its exit code', async () => {
        const r = ref('rev');
        const env = await ensure(r);
        const [replica] = await start(revision(r, env, 'd3', { env: image.exitWith(42) }), [0]);
        const reading = await until(
          `replica ${replica!.id} reads as failing with its exit code`,
          () => driver.revisions.probe(replica!.id, { kind: 'tcp', port: PORT }),
          (x) => x.failure !== undefined && /\b42\b/.test(x.failure),
        );
        expect(reading.failure).toMatch(/\b42\b/);
        expect(reading.replica?.id).toBe(replica!.id);
      });

      it('remove takes the replica away, and removing it again is no error', async () => {
        const r = ref('rev');
        const env = await ensure(r);
        const spec = revision(r, env, 'd4', { replicas: 2 });
        const [first, second] = await start(spec, [0, 1]);
        await driver.revisions.remove(first!.id, 0);
        await driver.revisions.remove(first!.id, 0);
        // Gone, or (where the data plane deletes asynchronously, as Kubernetes does its pods)
        // still listed for a while as `removing`, stopped and never counted as a replica.
        const listed = async () =>
          (await driver.revisions.list(spec.labels)).filter((x) => x.state !== 'removing');
        const left = await listed();
        if (s.removalKeepsSiblings === false) {
          // The replica set's own choice: it may take a sibling rather than the replacement it has
          // just begun for the removed one, and that replacement may be listed until the scale-down
          // reaches it. Never the removed one; one replica fewer once the replica set settles.
          expect(left.map((x) => x.id)).not.toContain(first!.id);
          const settled = await until('one replica left', listed, (l) => l.length === 1);
          expect(settled.map((x) => x.id)).not.toContain(first!.id);
        } else {
          expect(left.map((x) => x.id)).toEqual([second!.id]);
        }
        const reading = await driver.revisions.probe(first!.id, undefined);
        if (reading.replica) expect(reading.replica.state).toBe('removing');
        expect(reading.failure).toEqual(expect.any(String));
        expect(reading.stopped).toBe(true);
      });
    });

    it('never shows a secret environment value or secret file in what list or probe return', async () => {
      const secret = plantedAwsKey().secret;
      const r = ref('sec');
      const env = await ensure(r);
      const spec = revision(r, env, 'd5', {
        env: { ...image.serve(PORT), API_KEY: secret },
        files: [{ path: '/etc/contract/token', content: secret, secret: true }],
      });
      const seen: unknown[] = [];
      seen.push(await start(spec, [0]));
      const [replica] = await driver.revisions.list(spec.labels);
      seen.push(replica, await passes(replica!.id));
      seen.push(await driver.revisions.markServing(replica!.id, env.name, spec.names));
      seen.push(
        await driver.revisions.list(spec.labels),
        await driver.revisions.probe(replica!.id, undefined),
      );
      const run = await startJob(job(r, env, 'x5', { env: { ...image.printArgs(0), API_KEY: secret } }));
      await driver.jobs.wait(run.id);
      seen.push(run, await driver.jobs.list({ [LABEL.execution]: 'x5', [LABEL.project]: r.project }));
      seen.push(await driver.observe.list({ [LABEL.instance]: r.instance, [LABEL.project]: r.project }));
      const text = show(seen);
      expect(text).toContain(replica!.id);
      expect(text).not.toContain(secret);
    });

    describe('jobs', () => {
      const args = ['first', 'two words', '$HOME', '"quoted"', 'last'];

      it('runs to the exit code its program chose, with its arguments word for word and in order', async () => {
        const r = ref('job');
        const env = await ensure(r);
        const spec = job(r, env, 'x1', { env: image.printArgs(3), args });
        const run = await startJob(spec);
        expect(run.labels).toMatchObject(spec.labels);
        expect(await driver.jobs.wait(run.id)).toBe(3);
        // At once, and the same, once it has stopped.
        expect(await driver.jobs.wait(run.id)).toBe(3);
        const logs = await until(
          `run ${run.id} output`,
          () => driver.jobs.logs(run.id, 100),
          (text) => text.includes('last'),
        );
        expect(lines(logs)).toEqual(args);

        const listed = await driver.jobs.list(spec.labels);
        expect(listed.map((x) => x.id)).toEqual([run.id]);
        expect(listed[0]!.labels).toMatchObject(spec.labels);
      });

      it('follow yields the output from the start and ends when the run stops', async () => {
        const r = ref('job');
        const env = await ensure(r);
        const run = await startJob(job(r, env, 'x2', { env: image.printArgs(0), args }));
        const stream = await driver.jobs.follow(run.id, AbortSignal.timeout(deadlineMs));
        const text = await readToEnd(stream, deadlineMs, `${name}: following run ${run.id}`);
        expect(lines(text)).toEqual(args);
        expect(await driver.jobs.wait(run.id)).toBe(0);
      });

      it('remove takes the run away, and removing it again is no error', async () => {
        const r = ref('job');
        const env = await ensure(r);
        const spec = job(r, env, 'x3', { env: image.exitWith(0) });
        const run = await startJob(spec);
        await driver.jobs.wait(run.id);
        await driver.jobs.remove(run.id, 0);
        await driver.jobs.remove(run.id, 0);
        expect(await driver.jobs.list(spec.labels)).toEqual([]);
      });
    });

    describe('traffic', () => {
      it('publishes an empty state, and a state routing to a started replica', async () => {
        const r = ref('trf');
        const env = await ensure(r);
        const spec = revision(r, env, 'd6');
        const [replica] = await start(spec, [0]);
        await passes(replica!.id);
        await driver.revisions.markServing(replica!.id, env.name, spec.names);
        const owner = {
          orgId: 'org_contract',
          projectId: 'prj_contract',
          componentId: 'cmp_web',
          environmentId: 'env_development',
          deploymentId: 'dpl_d6',
        };
        const route = {
          prefix: '/',
          basePath: '/',
          componentPrefix: '/',
          deployment: replica!.labels[LABEL.deployment]!,
          port: PORT,
          owner,
        };
        const routed: RoutingState = {
          revisions: [
            {
              instance: s.instance,
              deployment: route.deployment,
              org: r.org,
              project: r.project,
              environment: r.environment,
              names: ['web'],
              switching: false,
            },
          ],
          hosts: [{ host: `${r.project}.contract.test`, routes: [route] }],
          webApps: [],
          internal: [
            {
              org: r.org,
              environment: r.environment,
              port: 18080,
              routes: [{ ...route, prefix: '/web', componentPrefix: '/web' }],
            },
          ],
        };
        const before = s.inspect?.published?.().length ?? 0;
        await expect(driver.traffic.publish(emptyRoutingState())).resolves.toBeUndefined();
        await expect(driver.traffic.publish(routed)).resolves.toBeUndefined();
        // Level-based: what the data plane serves afterwards is nothing again.
        await expect(driver.traffic.publish(emptyRoutingState())).resolves.toBeUndefined();
        const published = s.inspect?.published?.();
        if (published)
          expect(published.slice(before)).toEqual([emptyRoutingState(), routed, emptyRoutingState()]);
      });
    });

    describe('observe', () => {
      it('list sees the replicas and the runs carrying the labels', async () => {
        const r = ref('obs');
        const env = await ensure(r);
        const spec = revision(r, env, 'd7', { replicas: 2 });
        const started = await start(spec, [0, 1]);
        const run = await startJob(job(r, env, 'x7', { env: image.printArgs(0), args: ['observed'] }));
        const scope = { [LABEL.instance]: r.instance, [LABEL.project]: r.project };
        const listed = await driver.observe.list(scope);
        expect(listed.map((x) => x.id)).toEqual(
          expect.arrayContaining([...started.map((x) => x.id), run.id]),
        );
        // Not asserted: that nothing else is listed (Docker's task sandbox carries the scope's labels too).
        for (const x of listed) expect(x.labels).toMatchObject(scope);
        const onlyRun = (await driver.observe.list({ ...scope, [LABEL.execution]: 'x7' })).map((x) => x.id);
        expect(onlyRun).toEqual([run.id]);
      });
    });
  });
}

/** Replicas ordered by their index label. */
function byIndex(replicas: Replica[]): Replica[] {
  return [...replicas].sort((a, b) => Number(a.labels[LABEL.replica]) - Number(b.labels[LABEL.replica]));
}

/** Non-empty lines of output (a driver may end it with a newline or not). */
function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line !== '');
}

/** JSON of a driver's answer (Maps and bigints included), for searching and for messages. */
function show(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v instanceof Map ? Object.fromEntries(v) : typeof v === 'bigint' ? v.toString() : v,
  );
}

/** The whole stream as text; fails naming `what` if it has not ended within `ms`. */
async function readToEnd(stream: NodeJS.ReadableStream, ms: number, what: string): Promise<string> {
  const chunks: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: the stream did not end within ${ms} ms`)), ms);
  });
  const read = (async () => {
    for await (const chunk of stream)
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return chunks.join('');
  })();
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import { describe, expect, it } from 'vitest';
import type { EnvironmentRef, RevisionSpec } from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { RondoError } from '../../src/domain/errors.js';
import { type ContractImage, driverContract } from './driver-contract.js';
import { FAKE_NO_PROGRAM, FAKE_TERMINATED, FakeDriver, type FakeProgram } from './fake-driver.js';

const IMAGE = 'contract.test/behaviour:1';
const BEHAVIOUR = 'RONDO_TEST_BEHAVIOUR';

type Behaviour = { serve: number; print: string[] } | { exit: number } | { printArgs: number };

/** The contract's image for the fake: the behaviour travels as JSON in one variable. */
const fakeImage: ContractImage = {
  ref: IMAGE,
  serve: (port, printEnv = []) => ({ [BEHAVIOUR]: JSON.stringify({ serve: port, print: printEnv }) }),
  exitWith: (code) => ({ [BEHAVIOUR]: JSON.stringify({ exit: code }) }),
  printArgs: (code) => ({ [BEHAVIOUR]: JSON.stringify({ printArgs: code }) }),
};

/** What the fake runs for `fakeImage`: the same behaviour a Docker driver's busybox script has. */
const behaviour: FakeProgram = (args, env) => {
  const b = JSON.parse(env[BEHAVIOUR] ?? '{}') as Behaviour;
  if ('serve' in b) return { output: b.print.map((n) => `${n}=${env[n] ?? ''}\n`).join('') };
  if ('exit' in b) return { exitCode: b.exit, output: '' };
  return { exitCode: b.printArgs, output: args.map((a) => `${a}\n`).join('') };
};

driverContract('fake', async () => {
  const fake = new FakeDriver().onImage(IMAGE, behaviour);
  return {
    driver: fake,
    image: fakeImage,
    instance: 'contract',
    cleanup: async () => undefined,
    inspect: { published: () => fake.published },
  };
});

describe('FakeDriver knobs', () => {
  const ref: EnvironmentRef = { instance: 'knobs', org: 'acme', project: 'shop', environment: 'development' };
  const setup = async () => {
    const fake = new FakeDriver();
    const env = await fake.environments.ensure(ref);
    const spec: RevisionSpec = {
      environment: env,
      labels: { [LABEL.instance]: 'knobs', [LABEL.deployment]: 'dpl_1' },
      name: 'rondo-knobs-web-dpl_1',
      image: 'web:1',
      replicas: 2,
      env: {},
      files: [],
      ports: [8080],
      names: ['web'],
    };
    return { fake, env, spec };
  };

  it('names and addresses environments deterministically', async () => {
    const { fake, env } = await setup();
    expect(env).toEqual({
      name: 'rondo.knobs.acme.shop.development',
      labels: {
        [LABEL.instance]: 'knobs',
        [LABEL.managed]: 'true',
        [LABEL.org]: 'acme',
        [LABEL.project]: 'shop',
        [LABEL.environment]: 'development',
      },
      sourceCidrs: ['10.77.0.0/24'],
      gatewayAddress: '10.77.0.1',
    });
    const next = await fake.environments.ensure({ ...ref, environment: 'production' });
    expect(next.sourceCidrs).toEqual(['10.77.1.0/24']);
    expect(fake.capabilities.restartsOnLiveness).toBe(false);
  });

  it('refuses an environment of the same name with other labels', async () => {
    const fake = new FakeDriver();
    fake.plantEnvironment({ name: 'rondo.knobs.acme.shop.development', labels: {}, sourceCidrs: [] });
    await expect(fake.environments.ensure(ref)).rejects.toThrow(/exists with other labels/);
  });

  it('refuses to remove an environment that still runs replicas', async () => {
    const { fake, env, spec } = await setup();
    const [a] = await fake.revisions.start(spec, [0]);
    await expect(fake.environments.remove(env)).rejects.toMatchObject({ code: 'RONDO_ERR_CONFLICT_IN_USE' });
    await fake.revisions.remove(a!.id, 0);
    await fake.environments.remove(env);
    expect(await fake.environments.list('knobs')).toEqual([]);
  });

  it('failReadiness fails the deployment’s probes with the reason, for as many readings as asked', async () => {
    const { fake, spec } = await setup();
    const [a, b] = await fake.revisions.start(spec, [0, 1]);
    fake.failReadiness('dpl_1', 'connection refused', 2);
    expect((await fake.revisions.probe(a!.id, undefined)).failure).toBe('connection refused');
    expect((await fake.revisions.probe(b!.id, undefined)).failure).toBe('connection refused');
    expect((await fake.revisions.probe(a!.id, undefined)).failure).toBeUndefined();
    fake.failReadiness('dpl_1', 'HTTP 503');
    for (let i = 0; i < 5; i++)
      expect(await fake.revisions.probe(b!.id, undefined)).toMatchObject({ failure: 'HTTP 503' });
    expect((await fake.revisions.probe(b!.id, undefined)).stopped).toBeUndefined();
  });

  it('failPin makes pin refuse that image with the reason; other images still pin', async () => {
    const { fake } = await setup();
    fake.failPin('ghost:1', 'manifest for ghost:1 not found');
    await expect(fake.revisions.pin('ghost:1')).rejects.toMatchObject({
      code: 'RONDO_ERR_NOT_FOUND',
      message: expect.stringContaining('manifest for ghost:1 not found'),
    });
    await expect(fake.revisions.pin('web:1')).resolves.toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('exit stops a replica with its code; restart brings it back and counts', async () => {
    const { fake, spec } = await setup();
    const [a] = await fake.revisions.start(spec, [0]);
    fake.exit(a!.id, 137);
    expect(await fake.revisions.probe(a!.id, undefined)).toMatchObject({
      failure: 'exited with code 137',
      stopped: true,
      replica: { state: 'exited', exitCode: 137 },
    });
    await fake.revisions.restart(a!.id);
    const reading = await fake.revisions.probe(a!.id, undefined);
    expect(reading.failure).toBeUndefined();
    expect(reading.replica).toMatchObject({ state: 'running', restartCount: 1 });
    expect(reading.replica).not.toHaveProperty('exitCode');
  });

  it('labels replicas with their index, gives them addresses in the environment, and marks them serving', async () => {
    const { fake, env, spec } = await setup();
    const [a, b] = await fake.revisions.start(spec, [0, 1]);
    expect([a!.name, b!.name]).toEqual(['rondo-knobs-web-dpl_1-0', 'rondo-knobs-web-dpl_1-1']);
    expect([a!.ip, b!.ip]).toEqual(['10.77.0.2', '10.77.0.3']);
    expect(b!.labels).toEqual({ ...spec.labels, [LABEL.replica]: '1' });
    await expect(fake.revisions.start(spec, [1])).rejects.toThrow(/exists/);
    await expect(fake.revisions.markServing(a!.id, 'elsewhere', ['web'])).rejects.toThrow(/not in elsewhere/);
    expect(await fake.revisions.markServing(a!.id, env.name, ['web'])).toMatchObject({ ready: true });
    expect(fake.namesOf(a!.id)).toEqual(['web']);
    expect(fake.namesOf(b!.id)).toEqual([]);
  });

  it('runs a job with the program of its image, also when started by its pin', async () => {
    const { fake, env } = await setup();
    const seen: { args: string[]; env: Record<string, string> }[] = [];
    fake.onImage('task:1', (args, e) => {
      seen.push({ args, env: e });
      return { exitCode: args.length, output: `ran ${args.join(',')}\n` };
    });
    const pinned = await fake.revisions.pin('task:1');
    expect(pinned).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await fake.revisions.pin('task:1')).toBe(pinned);
    const spec = {
      environment: env,
      name: 'run',
      labels: { [LABEL.execution]: 'x1' },
      env: { A: '1' },
      files: [],
    };
    const run = await fake.jobs.start({ ...spec, image: pinned, args: ['a', 'b'] });
    expect(await fake.jobs.wait(run.id)).toBe(2);
    expect(await fake.jobs.logs(run.id, 10)).toBe('ran a,b\n');
    expect(seen).toEqual([{ args: ['a', 'b'], env: { A: '1' } }]);

    const unknown = await fake.jobs.start({ ...spec, image: 'nothing:1', args: [] });
    expect(await fake.jobs.wait(unknown.id)).toBe(FAKE_NO_PROGRAM);
    expect(await fake.jobs.logs(unknown.id, 10)).toMatch(/has no program/);
  });

  it('a run that keeps running is waited for, followed, and ends when it exits or is removed', async () => {
    const { fake, env } = await setup();
    fake.onImage('server:1', () => ({ output: 'up\n' }));
    const spec = {
      environment: env,
      name: 'run',
      labels: {},
      image: 'server:1',
      env: {},
      files: [],
      args: [],
    };
    const run = await fake.jobs.start(spec);
    const waited = fake.jobs.wait(run.id);
    const stream = await fake.jobs.follow(run.id);
    fake.print(run.id, 'more\n');
    fake.exit(run.id, 5);
    expect(await waited).toBe(5);
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    expect(text).toBe('up\nmore\n');

    const other = await fake.jobs.start(spec);
    const removed = fake.jobs.wait(other.id);
    await fake.jobs.remove(other.id, 10);
    expect(await removed).toBe(FAKE_TERMINATED);
    await expect(fake.jobs.wait(other.id)).rejects.toBeInstanceOf(RondoError);

    const third = await fake.jobs.start(spec);
    const abort = new AbortController();
    const aborted = fake.jobs.wait(third.id, abort.signal);
    abort.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
  });

  it('logs keep the last lines asked for', async () => {
    const { fake, spec } = await setup();
    fake.onImage('web:1', () => ({ output: 'one\ntwo\nthree\n' }));
    const [a] = await fake.revisions.start(spec, [0]);
    expect(await fake.revisions.logs(a!.id, 2)).toBe('two\nthree\n');
    expect(await fake.revisions.logs(a!.id, 0)).toBe('');
    await expect(fake.revisions.logs('fake-replica-999', 1)).rejects.toMatchObject({
      code: 'RONDO_ERR_NOT_FOUND',
    });
  });

  it('ping says what to fix when made unavailable', async () => {
    const fake = new FakeDriver();
    await fake.ping();
    fake.unavailable('the test pulled the plug');
    await expect(fake.ping()).rejects.toMatchObject({
      code: 'RONDO_ERR_UNAVAILABLE',
      message: expect.stringContaining('pulled the plug'),
    });
    fake.unavailable(undefined);
    await fake.ping();
  });
});

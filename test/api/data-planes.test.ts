import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKubeconfig } from '../../src/dataplane/kubernetes/credentials.js';
import { Keyring } from '../../src/secrets/envelope.js';
import { createRondo, type Rondo } from '../../src/server.js';
import { injector, type TestResponse, type TestRondo } from '../helpers/rondo.js';
import { kubeconfigText, plantedKubeToken } from '../helpers/secrets.js';
import { createTestDatabase, DRIVERS, snapshot } from '../helpers/stores.js';

const DATAPLANES = '/api/v1/orgs/default/dataplanes';

/**
 * G6 item 3: several data planes per organization. A Kubernetes cluster is registered with its
 * kubeconfig, checked before anything is stored, kept only as an envelope under the master key
 * (re-wrapped by a rotation), and never shown again: not in an answer, the audit log, the server
 * log or the database's plaintext.
 */
describe.each(DRIVERS)('data planes on %s', (driver) => {
  let rondo: Rondo;
  let call: TestRondo['call'];
  let drop: (() => Promise<void>) | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rondo-dp-'));
  const keyFile = join(dir, 'master.key');
  const logs: string[] = [];
  const answers: TestResponse[] = [];
  const token = `rondo_test_${Math.random().toString(36).slice(2)}_admin_token`;
  const secret = plantedKubeToken();

  beforeAll(async () => {
    const pg = driver === 'postgres' ? await createTestDatabase() : undefined;
    drop = pg?.drop;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: 'memory://',
        masterKeyFile: keyFile,
        ...(pg ? { databaseUrl: pg.url } : {}),
        bootstrapOrg: 'default',
        bootstrapToken: token,
        logLevel: 'trace',
      },
      pino({ level: 'trace' }, sink),
    );
    const inject = injector(rondo, token);
    // Every answer of this file is kept, to search for the planted token at the end.
    call = async (...args) => {
      const res = await inject(...args);
      answers.push(res);
      return res;
    };
  });
  afterAll(async () => {
    await rondo?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  // The key file holds base64 of the 32 bytes.
  const masterKey = () => Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
  const storedConfig = async (name: string) =>
    rondo.store.db
      .selectFrom('data_planes')
      .select(['id', 'config'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();

  it('registers a Kubernetes cluster: answers with its server and context, never its credentials', async () => {
    const kubeconfig = kubeconfigText(secret);
    const created = await call('POST', DATAPLANES, {
      body: { name: 'lab', type: 'kubernetes', config: { kubeconfig, context: 'other' } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'lab',
      type: 'kubernetes',
      config: { server: 'https://10.201.0.2:6443', context: 'other', credentials: 'stored encrypted' },
      environments: [],
    });
    expect(Object.keys(created.body.config).sort()).toEqual(['context', 'credentials', 'server']);

    const got = await call('GET', `${DATAPLANES}/lab`);
    // Read alone, it carries its status; without the platform nothing drives it, and it says so.
    const { status, ...rest } = got.body;
    expect(rest).toEqual(created.body);
    expect(status).toMatchObject({ reachable: false, tookMs: expect.any(Number) });
    expect(status.reason).toMatch(/^not checked: this control plane runs without its platform/);
    expect(Date.parse(status.checkedAt)).not.toBeNaN();
    const list = await call('GET', DATAPLANES);
    expect(list.body.items.map((d: { name: string; type: string }) => [d.name, d.type])).toEqual([
      ['lab', 'kubernetes'],
      ['local', 'docker'],
    ]);
    expect(list.body.items[1]).toMatchObject({ environments: ['development', 'production'] });

    // Stored: the envelope, the context and the server; the envelope opens to the text sent.
    const row = await storedConfig('lab');
    expect(Object.keys(row.config).sort()).toEqual(['context', 'kubeconfig', 'server']);
    expect(Object.keys(row.config.kubeconfig as object).sort()).toEqual([
      'ciphertext',
      'keyId',
      'wrappedKey',
    ]);
    const ring = new Keyring(masterKey());
    expect(openKubeconfig(ring, row)).toEqual({ kubeconfig, context: 'other' });
    // Bound to its row: another data plane's id does not open it.
    expect(() => openKubeconfig(ring, { ...row, id: 'dp_other' })).toThrow();
  });

  it('uses the current-context when none is named, and lists the environments a data plane hosts', async () => {
    const created = await call('POST', DATAPLANES, {
      body: { name: 'lab-two', type: 'kubernetes', config: { kubeconfig: kubeconfigText(secret) } },
    });
    expect(created.status).toBe(201);
    expect(created.body.config).toMatchObject({ context: 'ctx' });
    const env = await call('POST', '/api/v1/orgs/default/environments', {
      body: { name: 'staging', dataPlane: 'lab-two' },
    });
    expect(env.status, JSON.stringify(env.body)).toBe(201);
    expect((await call('GET', `${DATAPLANES}/lab-two`)).body.environments).toEqual(['staging']);
    const inUse = await call('DELETE', `${DATAPLANES}/lab-two`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.detail).toContain('staging');
  });

  it('registers the registry its nodes pull from: the address shown, the pull credentials stored encrypted', async () => {
    const kubeconfig = kubeconfigText(secret);
    const registry = { address: '10.201.0.1:5000', username: 'puller', password: `${secret}-pull` };
    const created = await call('POST', DATAPLANES, {
      body: { name: 'lab-pull', type: 'kubernetes', config: { kubeconfig, registry } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.config).toEqual({
      server: 'https://10.201.0.2:6443',
      context: 'ctx',
      credentials: 'stored encrypted',
      registry: { address: '10.201.0.1:5000', credentials: 'stored encrypted' },
    });
    const row = await storedConfig('lab-pull');
    const stored = row.config.registry as { address: string; credentials: object };
    expect(stored.address).toBe('10.201.0.1:5000');
    expect(Object.keys(stored.credentials).sort()).toEqual(['ciphertext', 'keyId', 'wrappedKey']);
    const ring = new Keyring(masterKey());
    expect(openKubeconfig(ring, row).registry).toEqual(registry);
    // An address alone (a registry that asks for no credentials) is kept as given.
    const open = await call('POST', DATAPLANES, {
      body: {
        name: 'lab-open',
        type: 'kubernetes',
        config: { kubeconfig, registry: { address: 'registry.lab:443' } },
      },
    });
    expect(open.body.config.registry).toEqual({ address: 'registry.lab:443' });
    expect(openKubeconfig(ring, await storedConfig('lab-open')).registry).toEqual({
      address: 'registry.lab:443',
    });
    for (const [registry, why] of [
      [{ address: 'http://10.201.0.1:5000' }, /host\[:port\]/],
      [{ address: '10.201.0.1:5000', username: 'puller' }, /together/],
    ] as const) {
      const refused = await call('POST', DATAPLANES, {
        body: { name: 'refused', type: 'kubernetes', config: { kubeconfig, registry } },
      });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body.errors)).toMatch(why);
    }
  });

  it('still registers a Docker engine, by its socket', async () => {
    const created = await call('POST', DATAPLANES, {
      body: { name: 'podman', type: 'docker', config: { socketPath: '/run/podman/podman.sock' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'docker', config: { socketPath: '/run/podman/podman.sock' } });
  });

  const refusals: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'text that is not a kubeconfig',
      { kubeconfig: `token: ${secret}\n` },
      'config.kubeconfig',
      /https server/,
    ],
    ['YAML that does not parse', { kubeconfig: `clusters: [\n  ${secret}: {` }, 'config.kubeconfig', /./],
    [
      'a cluster without a server',
      { kubeconfig: `clusters:\n- name: a\n  cluster: {}\nusers:\n- name: u\n  user: {token: ${secret}}\n` },
      'config.kubeconfig',
      /clusters\[0\]\.cluster\.server is missing/,
    ],
    [
      'a plain http server',
      { kubeconfig: kubeconfigText(secret, { server: 'http://10.201.0.2:8080' }) },
      'config.kubeconfig',
      /https/,
    ],
    [
      'a context it does not have',
      { kubeconfig: kubeconfigText(secret), context: 'prod' },
      'config.context',
      /ctx, other/,
    ],
    [
      'no context and no current-context',
      { kubeconfig: kubeconfigText(secret, { current: null }) },
      'config.context',
      /current-context/,
    ],
    [
      'a current-context it does not define',
      { kubeconfig: kubeconfigText(secret, { current: 'gone' }) },
      'config.kubeconfig',
      /'gone'/,
    ],
    [
      'a context whose user it lacks',
      { kubeconfig: kubeconfigText(secret, { user: 'someone-else' }) },
      'config.kubeconfig',
      /user 'admin'/,
    ],
    ['more than 256 KiB', { kubeconfig: `# ${'x'.repeat(256 * 1024)}` }, 'config.kubeconfig', /256 KiB/],
    ['no kubeconfig', { context: 'ctx' }, 'config.kubeconfig', /./],
    ["a Docker engine's settings", { kubeconfig: kubeconfigText(secret), socketPath: '/x' }, 'config', /./],
  ];

  it.each(refusals)(
    'refuses %s with 400 naming the field, and stores nothing',
    async (_what, config, field, why) => {
      const before = await snapshot(rondo.store);
      const res = await call('POST', DATAPLANES, { body: { name: 'refused', type: 'kubernetes', config } });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('RONDO_ERR_INPUT_INVALID');
      const named = (res.body.errors as { field: string; message: string }[]).find((e) =>
        e.field.startsWith(field),
      );
      expect(named, JSON.stringify(res.body.errors)).toBeDefined();
      expect(named!.message).toMatch(why);
      expect(await snapshot(rondo.store)).toBe(before);
    },
  );

  it('refuses a type it does not know', async () => {
    const res = await call('POST', DATAPLANES, { body: { name: 'refused', type: 'nomad', config: {} } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.errors)).toContain('type');
  });

  it('re-wraps the kubeconfig in a master key rotation: the new key alone opens it', async () => {
    const oldKey = masterKey();
    const before = await storedConfig('lab');
    const rotated = await call('POST', '/api/v1/admin/master-key/rotate');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body.rewrapped).toBeGreaterThanOrEqual(2);
    const newKey = masterKey();
    expect(newKey.equals(oldKey)).toBe(false);

    const after = await storedConfig('lab');
    const envelope = after.config.kubeconfig as { keyId: string; ciphertext: string };
    expect(envelope.keyId).toBe(rotated.body.keyId);
    // Re-wrapped, not re-encrypted: the value's ciphertext is the same.
    expect(envelope.ciphertext).toBe((before.config.kubeconfig as { ciphertext: string }).ciphertext);
    expect(openKubeconfig(new Keyring(newKey), after).kubeconfig).toContain(secret);
    expect(() => openKubeconfig(new Keyring(oldKey), after)).toThrow(/no master key/);
    // The pull credentials too, with their own binding.
    const pull = await storedConfig('lab-pull');
    expect((pull.config.registry as { credentials: { keyId: string } }).credentials.keyId).toBe(
      rotated.body.keyId,
    );
    expect(openKubeconfig(new Keyring(newKey), pull).registry?.password).toBe(`${secret}-pull`);
    // The Docker data planes' configs are left alone.
    expect((await storedConfig('podman')).config).toEqual({ socketPath: '/run/podman/podman.sock' });
  });

  it('never shows the planted token: answers, audit log, server log, database', async () => {
    await call('GET', DATAPLANES);
    await call('GET', `${DATAPLANES}/lab`);
    const audit = await call('GET', '/api/v1/orgs/default/audit');
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain('dataplane.create');
    expect(answers.length).toBeGreaterThan(10);
    for (const a of answers) expect(JSON.stringify(a.body)).not.toContain(secret);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('')).not.toContain(secret);
    // Every table, as JSON text.
    expect(await snapshot(rondo.store)).not.toContain(secret);
    const fragment = secret.split('.')[1]!;
    expect(await snapshot(rondo.store)).not.toContain(fragment);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../src/dataplane/labels.js';
import { buildBusyboxImage, docker, TEST_IMAGE_LABEL } from '../helpers/images.js';
import { type PlatformTestRondo, startPlatformRondo, waitForDeployment } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';
import { plantedAwsKey } from '../helpers/secrets.js';

const COMPONENT = '/api/v1/orgs/default/projects/shop/components/chatty';
const LOGS = `${COMPONENT}/logs?environment=development`;

/**
 * A service that prints JSON and plain lines at several levels, its secret, then a numbered tick
 * every second (to see a restarted collector resume without gaps or duplicates), and serves 8080.
 */
async function buildChattyImage(): Promise<string> {
  const script = [
    'export PATH=/bin',
    '/bin/busybox --install -s /bin',
    `echo '{"level":"error","msg":"json failure"}'`,
    `echo '{"level":30,"msg":"pino says hello"}'`,
    'echo "WARN plain warning here"',
    'echo "DEBUG cache details"',
    'echo "ERROR plain failure on stderr" >&2',
    'echo "the key is $API_KEY"',
    'echo "a line without a level"',
    'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done &',
    'exec httpd -f -p 8080 -h /www',
    '',
  ].join('\n');
  return buildBusyboxImage(
    'rondo-test-chatty:v1',
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      'COPY www /www',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    { 'run.sh': script, 'www/index.html': 'ok' },
  );
}

interface Line {
  timestamp: string;
  stream: string;
  level: string | null;
  message: string;
  replica: string;
  deployment: string;
  release: string;
}

describe('runtime logs of a service (real engine)', () => {
  let t: PlatformTestRondo;
  const planted = plantedAwsKey().secret;
  let first: { id: string; name: string };
  let second: { id: string; name: string };
  let between: string;

  const logs = async (query = ''): Promise<Line[]> => {
    const r = await t.call('GET', `${LOGS}&limit=5000${query}`);
    expect(r.status).toBe(200);
    return r.body.items;
  };
  /** Polls until `query` finds at least `n` lines. */
  const until = async (query: string, n: number): Promise<Line[]> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = await logs(query);
      if (found.length >= n || Date.now() > deadline) return found;
      await sleep(200);
    }
  };

  beforeAll(async () => {
    const image = await buildChattyImage();
    t = await startPlatformRondo('pglite');
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { name: 'chatty', type: 'service', source: { image }, endpoints: [{ port: 8080 }] },
    });
    expect(c.status).toBe(201);
    const set = await t.call('PATCH', `${COMPONENT}/config`, {
      body: { set: [{ key: 'API_KEY', value: planted, secret: true }] },
    });
    expect(set.status).toBe(200);
    const deploy = async () => {
      const d = await t.call('POST', `${COMPONENT}/deployments`, { body: { environment: 'development' } });
      expect(d.status).toBe(202);
      expect(await waitForDeployment(t, 'default', d.body.id)).toMatchObject({
        status: 'active',
        reason: null,
      });
      return (await t.call('GET', `/api/v1/orgs/default/deployments/${d.body.id}`)).body;
    };
    first = await deploy();
    await until('&grep=tick 2', 1);
    between = new Date().toISOString();
    await sleep(50);
    second = await deploy();
    await until(`&deployment=${second.name}&grep=tick 2`, 1);
  }, 120_000);
  afterAll(() => t?.close());

  it('keeps what the replaced container printed, found by level, text and time', async () => {
    // The rollout drains and stops the old replica after the new one is active.
    const left = () =>
      docker.listContainers({ all: true, filters: { label: [`${LABEL.deployment}=${first.id}`] } });
    const deadline = Date.now() + 30_000;
    while ((await left()).length > 0 && Date.now() < deadline) await sleep(200);
    expect(await left()).toEqual([]);

    const errors = await logs('&level=error');
    // stdout and stderr are separate pipes: the engine's times order lines within a stream only.
    const byStream = (a: string[], b: string[]) => a.join().localeCompare(b.join());
    expect(errors.map((l) => [l.deployment, l.stream, l.message]).sort(byStream)).toEqual([
      [first.name, 'stderr', 'ERROR plain failure on stderr'],
      [first.name, 'stdout', '{"level":"error","msg":"json failure"}'],
      [second.name, 'stderr', 'ERROR plain failure on stderr'],
      [second.name, 'stdout', '{"level":"error","msg":"json failure"}'],
    ]);
    const warnAndInfo = await logs(`&level=warn,info&deployment=${first.name}`);
    expect(warnAndInfo.map((l) => [l.level, l.message])).toEqual([
      ['info', '{"level":30,"msg":"pino says hello"}'],
      ['warn', 'WARN plain warning here'],
    ]);
    const debug = await logs('&level=debug&grep=CACHE');
    expect(debug.map((l) => l.deployment)).toEqual([first.name, second.name]);
    const plain = await logs('&grep=without a level');
    expect(plain.map((l) => [l.level, l.replica, l.release])).toEqual([
      [null, '0', first.name.split('.')[0]],
      [null, '0', second.name.split('.')[0]],
    ]);
    const before = await logs(`&until=${between}&grep=json failure`);
    expect(before.map((l) => l.deployment)).toEqual([first.name]);
    const after = await logs(`&since=${between}&grep=json failure`);
    expect(after.map((l) => l.deployment)).toEqual([second.name]);
    for (const l of [...before, ...after]) expect(Date.parse(l.timestamp)).not.toBeNaN();
  });

  it('redacts the planted secret in what it stores', async () => {
    const key = await logs('&grep=the key is');
    expect(key.map((l) => l.message)).toEqual(['the key is ***', 'the key is ***']);
    const leaked = await t.rondo.store.logs.db
      .selectFrom('runtime_logs')
      .select('id')
      .where('message', 'like', `%${planted}%`)
      .execute();
    expect(leaked).toEqual([]);
  });

  it('pages with a cursor without losing or repeating a line', async () => {
    const all = await logs(`&deployment=${first.name}&direction=forward`);
    const paged: Line[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `${LOGS}&deployment=${first.name}&direction=forward&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await t.call('GET', q);
      expect(r.status).toBe(200);
      paged.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);
    const newest = await t.call('GET', `${LOGS}&deployment=${first.name}&limit=2`);
    expect(newest.body.items).toEqual(all.slice(-2));
  });

  it('resumes after a restart of the collector without gaps or duplicates', async () => {
    const collector = t.rondo.logCollector!;
    await collector.stop();
    await sleep(2500);
    collector.start();
    const stopAt = (await logs(`&deployment=${second.name}&grep=tick`)).length;
    const ticks = await until(`&deployment=${second.name}&grep=tick`, stopAt + 3);
    const numbers = ticks.map((l) => Number(l.message.replace('tick ', '')));
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  it('streams new lines with follow=1', async () => {
    const abort = new AbortController();
    const res = await fetch(
      `${t.apiUrl}/api/v1/orgs/default/projects/shop/components/chatty/logs?environment=development&follow=1&grep=tick&limit=1`,
      {
        headers: { authorization: `Bearer ${t.adminToken}` },
        signal: abort.signal,
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body ?? []) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if (text.split('\n').filter(Boolean).length >= 3) break;
    }
    abort.abort();
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
    const numbers = lines.map((l) => Number(l.message.replace('tick ', '')));
    // The newest stored line, then new ones in order.
    expect(numbers[1]).toBe(numbers[0]! + 1);
    expect(numbers[2]).toBe(numbers[0]! + 2);
  });

  it('answers 404 for another organization, an unknown component or environment, and 400 for bad input', async () => {
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/users', { body: { name: 'otto' } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    const outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    expect((await t.call('GET', LOGS, { token: outsider })).status).toBe(404);
    const otherOrg = await t.call(
      'GET',
      '/api/v1/orgs/rival/projects/shop/components/chatty/logs?environment=development',
      { token: outsider },
    );
    expect(otherOrg.status).toBe(404);
    expect(
      (await t.call('GET', '/api/v1/orgs/default/projects/shop/components/nope/logs?environment=development'))
        .status,
    ).toBe(404);
    const env = await t.call('GET', `${COMPONENT}/logs?environment=nowhere`);
    expect(env.status).toBe(404);
    expect(env.body.detail).toMatch(/nowhere/);
    const fieldsOf = async (q: string) =>
      (await t.call('GET', `${LOGS}${q}`)).body.errors?.map((e: { field: string }) => e.field);
    expect(await fieldsOf('&since=garbage')).toEqual(['since']);
    expect(await fieldsOf('&since=45d')).toEqual(['since']);
    expect(await fieldsOf('&until=garbage')).toEqual(['until']);
    expect(await fieldsOf('&level=loud')).toEqual(['level']);
    expect(await fieldsOf('&cursor=xyz')).toEqual(['cursor']);
    expect((await t.call('GET', `${LOGS}&since=garbage`)).status).toBe(400);
  });

  it('rondo logs component prints them, and refuses --since garbage naming the field', async () => {
    ensureBuilt();
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken });
    const base = ['logs', 'component', 'chatty', '--project', 'shop', '--env', 'development'];
    const errors = await cli([...base, '--level', 'error', '--since', '1h'], env);
    expect(errors.status).toBe(0);
    const lines = errors.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(
      lines.filter((l) => l.includes(`${first.name}/0 stderr ERROR ERROR plain failure on stderr`)),
    ).toHaveLength(1);
    const json = await cli(['-o', 'json', ...base, '--grep', 'the key is', '--tail', '1'], env);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ message: 'the key is ***' })]);
    const bad = await cli([...base, '--since', 'garbage'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/since: give a time/);
  });
});
